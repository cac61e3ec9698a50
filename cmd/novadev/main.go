// Command novadev turns the Nova service catalog into a running environment.
package main

import (
	"os"

	"github.com/novadev/novadev/internal/app"
)

func main() { os.Exit(app.Main()) }
