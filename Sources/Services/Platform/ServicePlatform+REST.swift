import Foundation
import HTTPTypes
import Hummingbird

extension ServicePlatform {
    /// The request body decoded as JSON, within the body limit: 413 when larger, 400 when not
    /// the expected JSON (`what` says what was expected).
    public func decodeJSON<T: Decodable>(_ type: T.Type = T.self, from request: Request, expecting what: String = "a JSON body") async throws -> T {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: settings.maxBodyBytes)
        } catch {
            throw HTTPError(.contentTooLarge, message: "request body larger than \(settings.maxBodyBytes) bytes")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: body))
        } catch {
            throw HTTPError(.badRequest, message: "expected \(what)")
        }
    }

    /// A JSON response (`application/json`, keys sorted).
    public func jsonResponse(_ status: HTTPResponse.Status, _ object: [String: Any]) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A database call for a REST handler: a database that does not answer (in 3 s) becomes
    /// 503, never a crash; the error's type is logged, never its text (it may quote values).
    @discardableResult
    public func database<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withDatabaseDeadline(.seconds(3), body)
        } catch {
            logger.warning("database call failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            throw HTTPError(.serviceUnavailable, message: "database unavailable")
        }
    }
}
