import FlowOODCLI
import Tensor

// Before anything runs: OpenBLAS may have fallen back to generic kernels on a CPU it does not
// know; if so, this re-executes flowood with a better core (see BLASCore).
BLASCore.reexecutingWithBetterCoreIfNeeded()
FlowOODCommand.main()
