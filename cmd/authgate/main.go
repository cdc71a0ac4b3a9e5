// Command authgate issues and verifies the credentials IoT, M2M and telecom
// platforms put in front of their APIs. See README.md.
package main

import (
	"os"

	"github.com/authgate/authgate/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
