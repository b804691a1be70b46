import Foundation
import Testing
import Tensor
import Flows

@Suite("Prior and bits per dimension") struct LikelihoodTests {
    @Test func standardNormalLogProbability() {
        // log N(z; 0, I) for z = (1, 2) and z = 0, D = 2: −½‖z‖² − log 2π
        let z = Tensor([1, 2, 0, 0], shape: [2, 2])
        let lp = StandardNormal.logProb(z).doubles
        let log2pi = Foundation.log(2 * Double.pi)
        #expect(abs(lp[0] - (-2.5 - log2pi)) < 1e-6)
        #expect(abs(lp[1] - (-log2pi)) < 1e-6)
    }

    @Test func imageBitsPerDimension() throws {
        // A uniform density on [0,1)^D has log p(v) = 0: exactly 8 bits per 8-bit pixel.
        #expect(try BitsPerDimension.images(logLikelihood: [0], dimensions: 784) == [8])
        // log p(v) = 784·ln 2 nats is one bit per dimension better: 7 bpd.
        let b = try BitsPerDimension.images(logLikelihood: [784 * M_LN2], dimensions: 784)
        #expect(abs(b[0] - 7) < 1e-12)
    }

    @Test func latentBitsPerDimension() throws {
        // LDE: bpd = −log₂ p(z)/d − log₂ ε; with log p = 0 and ε = 1/1024 that is 10.
        #expect(try BitsPerDimension.latent(logLikelihood: [0], dimensions: 128) == [10])
        let b = try BitsPerDimension.latent(logLikelihood: [-128 * M_LN2], dimensions: 128, epsilon: 0.5)
        #expect(abs(b[0] - 2) < 1e-12)
    }

    @Test func nonFiniteScoresAreErrorsNamingTheSample() {
        #expect {
            _ = try BitsPerDimension.latent(logLikelihood: [0, -1, .nan], dimensions: 4)
        } throws: { error in
            guard let e = error as? NonFiniteScoreError else { return false }
            return e.index == 2 && e.description.contains("sample 2")
        }
        #expect(throws: NonFiniteScoreError.self) {
            _ = try BitsPerDimension.images(logLikelihood: [-.infinity], dimensions: 4)
        }
    }
}
