import ArgumentParser
public struct FlowOODCommand: ParsableCommand { public init() {} ; public func run() {} }
