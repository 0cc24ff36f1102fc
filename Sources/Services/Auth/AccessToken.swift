import JWTKit

/// The JWT auth issues: HS256, signed with JWT_SECRET.
struct AccessToken: JWTPayload {
    static let issuer = "devctl-auth"

    var sub: SubjectClaim
    var email: String
    var role: String
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var iss: IssuerClaim

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        guard iss.value == Self.issuer else {
            throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "unknown issuer")
        }
    }
}
