import AsyncHTTPClient
import CompressNIO
@testable import ConnectRPC
import DevctlCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Protos
import SwiftProtobuf
import Testing

/// The runtime's edges that a careless implementation gets wrong: what crosses as metadata,
/// how GET carries bytes, what counts as accepting gzip, strict timeout headers, deadlines.
@Suite struct RuntimeEdgeTests {
    private func send(_ port: Int, _ path: String, method: HTTPMethod = .POST, headers: HTTPHeaders = [:], body: [UInt8] = []) async throws -> (status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        try await RawHTTP.send(port, path, method: method, headers: headers, body: body)
    }

    @Test func errorResponsesKeepHandlerMetadataButNeverTransportHeaders() async throws {
        try await withGreeterServer { port in
            let response = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "application/json"],
                                          body: Array(#"{"name":"fail-with-metadata"}"#.utf8))
            #expect(response.status == 409)
            #expect(response.headers.first(name: "X-Echo") == "yes")
            #expect(response.headers.first(name: "trailer-x-trailer") == "done")
            #expect(response.headers.first(name: "X-Upstream") == "kept")
            #expect(response.headers.first(name: "Content-Length") != "999")
            #expect(!response.headers.contains(name: "Transfer-Encoding") || response.headers.first(name: "Content-Length") == nil)
            #expect(String(buffer: response.body) == #"{"code":"aborted","message":"upstream said no"}"#)
        }
    }

    @Test func getCarriesBinaryAndGzippedMessagesAsBytes() async throws {
        try await withGreeterServer { port in
            var message = Greeter_V1_GreetRequest()
            message.name = "Zoë ✓" // non-ASCII: its proto bytes are not valid percent-decoded UTF-8 text
            let bytes = [UInt8](try message.serializedData())
            let encoded = bytes.map { String(format: "%%%02X", $0) }.joined()
            let plain = try await send(port, "/test.v1.EchoService/Echo?connect=v1&encoding=proto&message=\(encoded)", method: .GET)
            #expect(plain.status == 200)
            #expect(try Greeter_V1_GreetResponse(serializedBytes: Array(plain.body.readableBytesView)).message == "Hello Zoë ✓!")

            var buffer = ByteBuffer(bytes: bytes)
            let gzipped = try buffer.compress(with: .gzip())
            let gzipEncoded = gzipped.readableBytesView.map { String(format: "%%%02X", $0) }.joined()
            let compressed = try await send(port, "/test.v1.EchoService/Echo?connect=v1&encoding=proto&compression=gzip&message=\(gzipEncoded)", method: .GET)
            #expect(compressed.status == 200)
            #expect(try Greeter_V1_GreetResponse(serializedBytes: Array(compressed.body.readableBytesView)).message == "Hello Zoë ✓!")
        }
    }

    @Test func gzipReallyTravelsBothWays() async throws {
        try await withGreeterServer { port in
            // A gzip request is inflated: the handler sees the name.
            var plain = ByteBuffer(string: #"{"name":"big:4000"}"#)
            let compressed = try plain.compress(with: .gzip())
            let response = try await send(port, "/greeter.v1.GreeterService/Greet",
                                          headers: ["Content-Type": "application/json", "Content-Encoding": "gzip", "Accept-Encoding": "gzip"],
                                          body: Array(compressed.readableBytesView))
            #expect(response.status == 200)
            // … and the large answer comes back compressed, and inflates to the message.
            #expect(response.headers.first(name: "Content-Encoding") == "gzip")
            var body = response.body
            let inflated = try body.decompress(with: .gzip())
            #expect(String(buffer: inflated).contains(String(repeating: "x", count: 4000)))
            #expect(response.body.readableBytes < 1000, "4000 x's should compress far below their size")
            // A body that says gzip but is not is refused, so the server really decodes.
            let liar = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "application/json", "Content-Encoding": "gzip"],
                                      body: Array(#"{"name":"x"}"#.utf8))
            #expect(String(buffer: liar.body).contains(#""code":"invalid_argument""#))
        }
    }

    @Test func gzipWithQualityZeroIsNotAccepted() async throws {
        try await withGreeterServer { port in
            let body = Array(#"{"name":"big:4000"}"#.utf8)
            let refused = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "application/json", "Accept-Encoding": "gzip;q=0, identity"], body: body)
            #expect(refused.headers.first(name: "Content-Encoding") == nil)
            let wildcardRefused = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "application/json", "Accept-Encoding": "*, gzip;q=0"], body: body)
            #expect(wildcardRefused.headers.first(name: "Content-Encoding") == nil)
            let accepted = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "application/json", "Accept-Encoding": "br;q=1, gzip;q=0.5"], body: body)
            #expect(accepted.headers.first(name: "Content-Encoding") == "gzip")
        }
    }

    @Test func unsupportedRequestEncodingIsUnimplementedListingWhatIs() async throws {
        try await withGreeterServer { port in
            let response = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "application/json", "Content-Encoding": "br"],
                                          body: Array(#"{"name":"x"}"#.utf8))
            #expect(String(buffer: response.body).contains(#""code":"unimplemented""#))
            #expect(String(buffer: response.body).contains("gzip, identity"))
        }
    }

    @Test func timeoutHeaderMustBeOneToTenPositiveDigits() async throws {
        try await withGreeterServer { port in
            for bad in ["0", "+5", "-1", "00", "12345678901", "1e3", "0x10", "5.0"] {
                let response = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "application/json", "Connect-Timeout-Ms": bad],
                                              body: Array(#"{"name":"x"}"#.utf8))
                #expect(String(buffer: response.body).contains(#""code":"invalid_argument""#), "Connect-Timeout-Ms \"\(bad)\"")
            }
            let good = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "application/json", "Connect-Timeout-Ms": "9999999999"],
                                      body: Array(#"{"name":"x"}"#.utf8))
            #expect(good.status == 200)
        }
    }

    /// A server that answers what the runtime would never send: corrupt gzip, foreign headers.
    private func withRawServer(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/greeter.v1.GreeterService/Greet") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/proto", .contentEncoding: "gzip"],
                     body: .init(byteBuffer: ByteBuffer(string: "this is not gzip")))
        }
        router.post("/test.v1.Errors/Fail") { _, _ in
            Response(status: .serviceUnavailable, headers: [.contentType: "application/json", HTTPField.Name("X-App")!: "kept"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"code":"unavailable","message":"down"}"#)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            guard let port = client.port else { throw DevctlFailure("no port") }
            try await body("http://127.0.0.1:\(port)")
        }
    }

    @Test func aCorruptGzipResponseIsNotBlamedOnTheRequest() async throws {
        try await withRawServer { url in
            let client = Greeter_V1_GreeterServiceClient(client: ConnectClient(baseURL: url))
            let error = await #expect(throws: ConnectError.self) { _ = try await client.greet(.with { $0.name = "x" }) }
            #expect(error?.code == .internal)
        }
    }

    @Test func clientErrorsCarryOnlyApplicationMetadata() async throws {
        try await withRawServer { url in
            let client = ConnectClient(baseURL: url, codec: .json)
            let error = await #expect(throws: ConnectError.self) {
                _ = try await client.unary("/test.v1.Errors/Fail", Greeter_V1_GreetRequest(), as: Greeter_V1_GreetResponse.self)
            }
            #expect(error?.code == .unavailable)
            #expect(error?.metadata[HTTPField.Name("X-App")!] == "kept")
            #expect(error?.metadata[.contentLength] == nil)
            #expect(error?.metadata[.contentType] == nil)
        }
    }
}

/// The one deadline helper: it answers at the deadline or on cancellation, never waiting for
/// an operation that ignores cancellation. Checked by order, not by the clock: the operation is
/// held until the test lets it go, after the helper has answered (a helper that waited would
/// only answer once the gate's 60 s fallback opened it, and the order check would fail).
@Suite struct DeadlineTests {
    /// Holds operations that ignore cancellation until `open()` (or 60 s, so that a broken helper
    /// fails the test instead of hanging it).
    final class Gate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        private let opened = NIOLockedValueBox(false)

        var isOpen: Bool { opened.withLockedValue { $0 } }

        func open() {
            opened.withLockedValue { $0 = true }
            semaphore.signal()
        }

        /// Waits for the gate without looking at cancellation (a blocking call, a sent query).
        func pass() async {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    if self.semaphore.wait(timeout: .now() + 60) == .timedOut { self.opened.withLockedValue { $0 = true } }
                    self.semaphore.signal()
                    continuation.resume()
                }
            }
        }
    }

    struct Late: Error {}

    @Test func theDeadlineAnswersWithoutWaitingForTheOperation() async throws {
        let gate = Gate()
        await #expect(throws: Late.self) {
            try await withTimeout(.milliseconds(100), { await gate.pass(); return 1 }, onTimeout: { Late() })
        }
        #expect(!gate.isOpen, "the helper waited for the operation")
        gate.open()
    }

    @Test func aCancellationThatArrivesFirstIsNotLost() async throws {
        let gate = Gate()
        let task = Task {
            // Cancelled before the helper starts its tasks: it must answer at once all the same.
            withUnsafeCurrentTask { $0?.cancel() }
            return try await withTimeout(.seconds(120), { await gate.pass(); return 1 }, onTimeout: { Late() })
        }
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(!gate.isOpen, "the cancellation was lost: the helper waited for the operation")
        gate.open()
    }

    @Test func aHandlerUnderADeadlineKnowsWhenItWillBeAnswered() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        let seen = try await ConnectUnaryHandler<Greeter_V1_GreetRequest, Greeter_V1_GreetResponse>.runHandler(before: deadline) { EnforcedDeadline.current }
        #expect(seen == deadline)
        let none = try await ConnectUnaryHandler<Greeter_V1_GreetRequest, Greeter_V1_GreetResponse>.runHandler(before: nil) { EnforcedDeadline.current }
        #expect(none == nil)
    }
}
