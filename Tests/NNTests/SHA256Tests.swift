import Testing
import Foundation
@testable import NN

@Suite struct SHA256Tests {
    // reference: FIPS 180-4 examples / `printf ... | sha256sum`
    @Test func knownDigests() {
        #expect(SHA256.hash("").hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash("abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // reference: printf 'x%.0s' $(seq 1000) | sha256sum
        #expect(SHA256.hash(String(repeating: "x", count: 1000)).hex
                == "44f8354494a5ba03ba1792a8d3e9c534c47a9181980fde7a3f44b06ef2ae7c7f")
    }

    @Test func streamingEqualsOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var h = SHA256()
        h.update(Array(bytes[0..<63]))
        h.update(Array(bytes[63..<64]))
        h.update(Array(bytes[64...]))
        #expect(h.finalize() == SHA256.hash(bytes))
    }
}
