import Crypto
import Foundation

/// The store's shared-secret handshake. The secret never travels: the client proves it knows
/// it with HMAC-SHA256(key: secret, message: label ‖ server nonce). The nonce is fresh per
/// connection, so a recorded proof is useless on any other connection.
public enum SharedSecretAuth {
    static let label = Array("epilogue-auth-v1".utf8)

    public static func proof(secret: String, nonce: [UInt8]) -> [UInt8] {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Array(secret.utf8)))
        mac.update(data: label)
        mac.update(data: nonce)
        return Array(mac.finalize())
    }

    /// Constant-time check of a client's proof.
    public static func verify(proof: [UInt8], secret: String, nonce: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(proof, authenticating: label + nonce,
                                               using: SymmetricKey(data: Array(secret.utf8)))
    }

    public static func makeNonce(count: Int = 32) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
