import ConnectRPC
import Testing

@Suite struct ConnectCodeTests {
    @Test func httpStatusesFollowTheSpec() {
        let expected: [ConnectCode: Int] = [
            .canceled: 499, .unknown: 500, .invalidArgument: 400, .deadlineExceeded: 504, .notFound: 404,
            .alreadyExists: 409, .permissionDenied: 403, .resourceExhausted: 429, .failedPrecondition: 400,
            .aborted: 409, .outOfRange: 400, .unimplemented: 501, .internal: 500, .unavailable: 503,
            .dataLoss: 500, .unauthenticated: 401,
        ]
        #expect(expected.count == ConnectCode.allCases.count)
        for (code, status) in expected {
            #expect(Int(code.httpStatus.code) == status, "\(code)")
        }
    }

    @Test func clientsInferCodesFromBareStatuses() {
        #expect(ConnectCode(inferringFrom: 400) == .internal)
        #expect(ConnectCode(inferringFrom: 401) == .unauthenticated)
        #expect(ConnectCode(inferringFrom: 403) == .permissionDenied)
        #expect(ConnectCode(inferringFrom: 404) == .unimplemented)
        #expect([429, 502, 503, 504].map(ConnectCode.init(inferringFrom:)) == Array(repeating: .unavailable, count: 4))
        #expect(ConnectCode(inferringFrom: 418) == .unknown)
    }
}
