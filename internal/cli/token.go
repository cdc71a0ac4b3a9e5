package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/sdk/oauth2client"
)

// newTokenCmd is `authgate token`: get (or reuse, or refresh) an access
// token for an access key and print it.
func newTokenCmd() *cobra.Command {
	var (
		baseURL, key, secret, secretFile, cachePath string
		noCache, asJSON                             bool
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print an access token for an access key, cached and refreshed as needed",
		Long: `Print an OAuth2 access token for an access key and secret from authgate's
/oauth/token (password grant). The token pair is cached in a file only the user
can read (default: authgate/tokens.json under the user's cache directory), under
an entry keyed by a hash of the URL, key and secret: a wrong secret never finds
the token of the right one. A cached token is first checked with the server (GET /
with it); it is reused while the server accepts it and until shortly before it
expires, else refreshed with the refresh token, and a new password grant is made
only when that fails. When the server refuses the key and secret (a deleted key, a
wrong secret) nothing is printed, the cache entry is dropped and the exit status
is non-zero.

The secret can be given with --secret, --secret-file or AUTHGATE_SECRET (flags
are visible to other users in the process list; prefer the file or variable).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if secret == "" && secretFile != "" {
				b, err := os.ReadFile(secretFile)
				if err != nil {
					return err
				}
				secret = strings.TrimSpace(string(b))
			}
			if secret == "" {
				secret = os.Getenv("AUTHGATE_SECRET")
			}
			if baseURL == "" || key == "" || secret == "" {
				return errors.New("--url, --key and a secret (--secret, --secret-file or AUTHGATE_SECRET) are required")
			}
			var opts []oauth2client.Option
			if !noCache {
				if cachePath == "" {
					p, err := oauth2client.DefaultCachePath()
					if err != nil {
						return fmt.Errorf("no cache directory (use --cache or --no-cache): %w", err)
					}
					cachePath = p
				}
				opts = append(opts, oauth2client.WithCache(oauth2client.FileCache{Path: cachePath}))
			}
			c, err := oauth2client.New(baseURL, key, secret, opts...)
			if err != nil {
				return err
			}
			tok, err := c.VerifiedToken(cmd.Context())
			var oe *oauth2client.Error
			if errors.As(err, &oe) {
				return fmt.Errorf("the server refuses access key %s; no token printed: %w", key, err)
			}
			if err != nil {
				return fmt.Errorf("no token printed: %w", err)
			}
			if asJSON || outputOf(cmd) != "" {
				return printOut(cmd, struct {
					AccessToken string    `json:"access_token"`
					TokenType   string    `json:"token_type"`
					Expiry      time.Time `json:"expiry"`
				}{tok.AccessToken, "Bearer", tok.Expiry})
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok.AccessToken)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&baseURL, "url", os.Getenv("AUTHGATE_URL"), "authgate base URL (env AUTHGATE_URL)")
	f.StringVar(&key, "key", os.Getenv("AUTHGATE_KEY"), "access key (env AUTHGATE_KEY)")
	f.StringVar(&secret, "secret", "", "access key secret (prefer --secret-file or AUTHGATE_SECRET)")
	f.StringVar(&secretFile, "secret-file", "", "file holding the secret")
	f.StringVar(&cachePath, "cache", "", "token cache file (default: user cache dir/authgate/tokens.json)")
	f.BoolVar(&noCache, "no-cache", false, "do not read or write the token cache")
	f.BoolVar(&asJSON, "json", false, "print access_token, token_type and expiry as JSON")
	_ = f.MarkDeprecated("json", "use -o json (or -o table)")
	return cmd
}
