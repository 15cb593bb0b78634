-- Host 2 of bench/embed/run.sh: runs the runbook, then drives it from a luv loop.
dofile(assert(arg[1]))
require("eventapi.luv").run()
