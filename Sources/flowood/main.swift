import FlowOODCLI
FlowOODCommand.main()
