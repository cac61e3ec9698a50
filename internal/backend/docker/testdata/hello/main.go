// Command hello is the tiny FROM-scratch workload of the Docker driver's
// integration tests: it prints a line, then answers "hello <NAME>" to every
// TCP connection on :8080 and writes a file into /data when it exists.
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	name := os.Getenv("NAME")
	fmt.Println("hello starting as", name)
	fmt.Fprintln(os.Stderr, "hello on stderr")
	if st, err := os.Stat("/data"); err == nil && st.IsDir() {
		_ = os.WriteFile("/data/touched", []byte(name), 0o644)
	}
	ln, err := net.Listen("tcp", ":8080")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello %s\n", name)
			c.Close()
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	fmt.Println("hello stopping")
}
