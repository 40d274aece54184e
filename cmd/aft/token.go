package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/auth"
	"github.com/aft-shim/aft/shim/record"
)

// tokenCmd is `aft token new TENANT` (cli.md): a fresh token on the first line, the
// --auth-file line for it on the second. The token is shown once: the auth file keeps its
// hash alone.
type tokenCmd struct{}

func (tokenCmd) Run(_ context.Context, args []string) error {
	if err, ok := help("token", args); ok {
		return err
	}
	if len(args) != 2 || args[0] != "new" {
		return usage("want: aft token new TENANT (a tenant is 1..%d of a-z, 0-9 and '-'; %q is the data of a shim without tenants)", record.MaxTenantSize, auth.DefaultName)
	}
	if tenant := args[1]; tenant != auth.DefaultName {
		if err := record.ValidTenant(tenant); err != nil || tenant == "" {
			return usage("tenant %q: a tenant is 1..%d of a-z, 0-9 and '-', starting and ending with a letter or digit", tenant, record.MaxTenantSize)
		}
	}
	token := auth.NewToken()
	fmt.Println(token)
	fmt.Println(auth.Line(args[1], token))
	return nil
}

// readToken returns the token of a caller of the shim (cli.md): the content of file, when
// given, else $AFT_SHIM_TOKEN; "" for none. The file is read as client.Credentials reads
// it (OpenFileToken), once.
func readToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(envShimToken)), nil
	}
	f, err := client.OpenFileToken(file)
	if err != nil {
		return "", fmt.Errorf("--shim-token-file: %w", err)
	}
	return f.Token(), nil
}
