import Foundation
import Hummingbird
import Logging

// GET /healthz answering {"status":"ok"}, the same bytes and server name handling as the
// services' platform route (Sources/Services/Platform/ServicePlatform.swift), on 127.0.0.1:$PORT.
let port = ProcessInfo.processInfo.environment["PORT"].flatMap(Int.init) ?? 8080
var logger = Logger(label: "bare-hummingbird")
logger.logLevel = .warning

let router = Router()
router.get("/healthz") { _, _ in
    Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
}
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare-hummingbird"),
    logger: logger
)
try await app.runService()
