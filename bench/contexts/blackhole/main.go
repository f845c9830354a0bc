// Command blackhole makes dead API server addresses on 127.0.0.1 for bench/contexts: -holes N
// listeners that accept every connection and never answer (a TLS handshake hangs until the
// client gives up), and -closed M ports that refuse connections (a TCP socket bound to the port
// that never listens, so no other program can take the port while the bench runs). It prints
// "hole ADDR" and "closed ADDR" lines, then "ready", and holds everything until SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	holes := flag.Int("holes", 24, "blackholed listeners")
	closed := flag.Int("closed", 24, "closed (bound, not listening) ports")
	flag.Parse()
	conns := make(chan net.Conn)
	for range *holes {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintf(os.Stderr, "blackhole: %v\n", err)
			os.Exit(1)
		}
		fmt.Println("hole", l.Addr())
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				conns <- c
			}
		}()
	}
	for range *closed {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err == nil {
			err = syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
		}
		var sa syscall.Sockaddr
		if err == nil {
			sa, err = syscall.Getsockname(fd)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "blackhole: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("closed 127.0.0.1:%d\n", sa.(*syscall.SockaddrInet4).Port)
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var held []net.Conn
	for {
		select {
		case c := <-conns:
			held = append(held, c) // never read, written or closed until exit
		case <-sig:
			return
		}
	}
}
