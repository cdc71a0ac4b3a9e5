package cli

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authgate/authgate/internal/ca/cnf"
)

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// newCSRCmd is `authgate csr`: the equivalent of
// `openssl req -new -config FILE -newkey rsa:BITS -nodes` for the
// configuration files of the M2M setup document's annex.
func newCSRCmd() *cobra.Command {
	var config, keyOut, csrOut string
	var force bool
	cmd := &cobra.Command{
		Use:   "csr --config file.cnf [--key-out key.pem] [--csr-out req.csr]",
		Short: "Make an RSA key and a certificate request from an openssl-style configuration file",
		Long: `Reads an openssl req configuration (prompt = no) such as the annex files of the
M2M Connectivity API setup document, generates an RSA key of default_bits
(at least 2048), and writes the key (PKCS#8 PEM, mode 0600, unencrypted
like -nodes) and a CSR with the file's distinguished name, in file order and
with OpenSSL's string types, and its req_extensions, signed with default_md.
The key goes to --key-out, or to default_keyfile when the file names one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			text, err := readLimited(config, cnf.MaxFileSize)
			if err != nil {
				return err
			}
			file, err := cnf.Parse(text, cnf.Options{LookupEnv: os.LookupEnv})
			if err != nil {
				return fmt.Errorf("%s: %w", config, err)
			}
			req, err := cnf.Req(file)
			if err != nil {
				return fmt.Errorf("%s: %w", config, err)
			}
			if keyOut == "" {
				keyOut = req.KeyFile
			}
			if keyOut == "" {
				return errors.New("no --key-out and the configuration has no default_keyfile")
			}
			key, err := rsa.GenerateKey(rand.Reader, req.Bits)
			if err != nil {
				return err
			}
			der, err := req.CreateCSR(rand.Reader, key)
			if err != nil {
				return fmt.Errorf("%s: %w", config, err)
			}
			keyDER, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return err
			}
			// The key is written first and never over an existing file
			// (unless --force): losing a key already in use is worse than
			// an error.
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			kf, err := os.OpenFile(keyOut, flags, 0o600)
			if err != nil {
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("%s exists; use --force to replace it", keyOut)
				}
				return err
			}
			if _, err := kf.Write(pemEncode("PRIVATE KEY", keyDER)); err != nil {
				kf.Close()
				return err
			}
			if err := kf.Close(); err != nil {
				return err
			}
			if err := writeOut(cmd, csrOut, pemEncode("CERTIFICATE REQUEST", der)); err != nil {
				return err
			}
			name, _ := req.Name()
			var exts []string
			for _, e := range req.Extensions {
				exts = append(exts, e.Name)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "RSA %d-bit key written to %s\nrequest for %s (%s, %s)\n",
				req.Bits, keyOut, name, req.Digest, strings.Join(exts, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&config, "config", "", "openssl-style configuration file")
	f.StringVar(&keyOut, "key-out", "", "private key file (default: default_keyfile of the configuration)")
	f.StringVar(&csrOut, "csr-out", "", "CSR file (default stdout)")
	f.BoolVar(&force, "force", false, "overwrite an existing key file")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
