package oauth2

import (
	"strings"
	"testing"
)

func TestParseFormStrict(t *testing.T) {
	tests := []struct {
		body    string
		want    Form
		wantErr string
	}{
		{"grant_type=password&username=a%2Bb&password=c+d", Form{"grant_type": "password", "username": "a+b", "password": "c d"}, ""},
		{"scope=&grant_type=x", Form{"grant_type": "x"}, ""},
		{"a=1&&b=2", Form{"a": "1", "b": "2"}, ""},
		{"a=1&a=2", nil, "repeated"},
		{"a=&a=2", nil, "repeated"},
		{"a=%zz", nil, "malformed"},
		{"a=1;b=2", nil, "malformed"},
		{"=x", nil, "malformed"},
	}
	for _, tt := range tests {
		got, err := ParseForm(tt.body)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Description, tt.wantErr) {
				t.Errorf("parseForm(%q) err = %v, want %q", tt.body, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("parseForm(%q) = %v, %v", tt.body, got, err)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("parseForm(%q)[%s] = %q, want %q", tt.body, k, got[k], v)
			}
		}
	}
}
