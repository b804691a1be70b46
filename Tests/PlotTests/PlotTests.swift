import Testing
import Plot
