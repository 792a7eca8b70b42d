package main

import (
	"fmt"
	"os"
)

// runGUI opens the desktop app. It is replaced by the app package's entry
// point as soon as that lands.
func runGUI(args []string) int {
	fmt.Fprintln(os.Stderr, "ccmcollect: the desktop app is not built yet; try `ccmcollect help`")
	return 1
}
