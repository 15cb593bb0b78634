-- Host 1 of bench/embed/run.sh: runs the runbook, then eventapi.run().
dofile(assert(arg[1]))
require("eventapi").run()
