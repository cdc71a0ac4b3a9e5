package cli

import "testing"

// The lifecycle of the Apstrata and M2M objects, every verb once.
var goldenApsM2MSteps = []goldenStep{
	{args: []string{"apstrata", "account", "create", "--name", "Acme IoT"}, save: map[string]string{"auth_key": "auth_key"}},
	{args: []string{"apstrata", "account", "list"}},
	{args: []string{"apstrata", "account", "get", "{auth_key}"}},
	{args: []string{"apstrata", "member", "create", "--auth-key", "{auth_key}", "--name", "alice"}},
	{args: []string{"apstrata", "member", "create", "--auth-key", "{auth_key}", "--name", "meter-1", "--device"}},
	{args: []string{"apstrata", "member", "list", "--auth-key", "{auth_key}"}},
	{args: []string{"apstrata", "member", "get", "alice", "--auth-key", "{auth_key}"}},
	{args: []string{"apstrata", "member", "delete", "meter-1", "--auth-key", "{auth_key}"}},
	{args: []string{"apstrata", "member", "list", "--auth-key", "{auth_key}", "--include-deleted"}},
	{args: []string{"apstrata", "account", "delete", "{auth_key}"}},
	{args: []string{"apstrata", "account", "list", "--include-deleted"}},
	{args: []string{"m2m", "apikey", "create", "--partner", "acme", "--config", "{config}"}, save: map[string]string{"key": "id"}},
	{args: []string{"m2m", "apikey", "list", "--config", "{config}"}},
	{args: []string{"m2m", "apikey", "get", "{key}", "--config", "{config}"}},
	{args: []string{"m2m", "apikey", "revoke", "{key}", "--config", "{config}"}},
	{args: []string{"m2m", "apikey", "list", "--include-revoked", "--config", "{config}"}},
	{args: []string{"m2m", "partner", "list", "--config", "{config}"}},
	{args: []string{"m2m", "partner", "get", "acme", "--config", "{config}"}},
	{args: []string{"m2m", "sim", "add", "8949020000000000025", "--partner", "acme", "--config", "{config}"}},
	{args: []string{"m2m", "sim", "list", "--config", "{config}"}},
	{args: []string{"m2m", "sim", "get", "8949020000000000025", "--config", "{config}"}},
	{args: []string{"m2m", "sim", "delete", "8949020000000000025", "--config", "{config}"}},
	{args: []string{"m2m", "outbox", "list", "--config", "{config}"}},
}

// TestGoldenApstrataM2MLifecycle: the golden outputs of every Apstrata and
// M2M lifecycle verb (testdata/golden/lifecycle_aps_m2m.*.golden).
func TestGoldenApstrataM2MLifecycle(t *testing.T) {
	runGolden(t, "lifecycle_aps_m2m", goldenApsM2MSteps)
}
