import Testing
import Flows
