// cniclient: drives CNI plugins through Debian's libcni (github.com/containernetworking/cni),
// the library container runtimes use, for dpu-cni's tests.
//
//	cniclient add|check|del CONFLIST CONTAINERID NETNS IFNAME [CNI_ARGS] [RUNTIME_CONFIG_JSON]
//
// Plugins are searched in $CNI_PATH; libcni's result cache goes to $CNI_CACHE_DIR. On success
// "add" prints the result; on failure the CNI error object {code, msg, details} is printed and
// the exit status is 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func fail(err error) {
	out := map[string]interface{}{"code": 999, "msg": err.Error()}
	var e *types.Error
	if errors.As(err, &e) {
		out = map[string]interface{}{"code": e.Code, "msg": e.Msg, "details": e.Details}
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	os.Exit(1)
}

func main() {
	if len(os.Args) < 6 {
		fmt.Fprintln(os.Stderr, "usage: cniclient add|check|del CONFLIST CONTAINERID NETNS IFNAME [CNI_ARGS] [RUNTIME_CONFIG_JSON]")
		os.Exit(2)
	}
	cmd, confPath := os.Args[1], os.Args[2]
	bytes, err := os.ReadFile(confPath)
	if err != nil {
		fail(err)
	}
	list, err := libcni.ConfListFromBytes(bytes)
	if err != nil {
		fail(err)
	}
	rt := &libcni.RuntimeConf{
		ContainerID: os.Args[3],
		NetNS:       os.Args[4],
		IfName:      os.Args[5],
		CacheDir:    os.Getenv("CNI_CACHE_DIR"),
	}
	if len(os.Args) > 6 && os.Args[6] != "" {
		for _, kv := range strings.Split(os.Args[6], ";") {
			p := strings.SplitN(kv, "=", 2)
			if len(p) == 2 {
				rt.Args = append(rt.Args, [2]string{p[0], p[1]})
			}
		}
	}
	if len(os.Args) > 7 && os.Args[7] != "" {
		if err := json.Unmarshal([]byte(os.Args[7]), &rt.CapabilityArgs); err != nil {
			fail(err)
		}
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), rt.CacheDir, nil)
	ctx := context.Background()
	switch cmd {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := res.Print(); err != nil {
			fail(err)
		}
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown command", cmd)
		os.Exit(2)
	}
}
