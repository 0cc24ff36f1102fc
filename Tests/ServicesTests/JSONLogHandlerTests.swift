import Foundation
import Hummingbird
import Logging
@testable import Services
import Testing

/// The hand-written JSON log line: valid JSON whatever the text holds, keys sorted, the same
/// timestamp format the formatter wrote, and metadata named like a built-in key replacing it.
@Suite struct JSONLogHandlerTests {
    static func parse(_ line: [UInt8]) throws -> [String: String] {
        #expect(line.last == 0x0A, "a line ends with a newline")
        #expect(line.dropLast().contains(0x0A) == false, "one line per event")
        let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: String]
        return try #require(object)
    }

    @Test func everyTextBecomesValidJSONAndKeysAreSorted() throws {
        let awkward = "quote \" backslash \\ newline \n tab \t bell \u{07} nul \u{00} slash / é 漢 🙂"
        let line = JSONLogHandler.line(timestamp: timespec(tv_sec: 1_795_000_000, tv_nsec: 125_999_999), level: .warning, label: "greeter",
                                       message: "\(awkward)", handlerMetadata: ["service": "greeter", "shared": "handler"],
                                       eventMetadata: ["hb.request.id": "ab12", "shared": "event", "zeta": "\(awkward)"])
        let object = try Self.parse(line)
        #expect(object == ["ts": "2026-11-18T11:06:40.125Z", "level": "warning", "logger": "greeter", "msg": awkward,
                           "service": "greeter", "shared": "event", "request_id": "ab12", "zeta": awkward])
        let text = String(decoding: line, as: UTF8.self)
        let keys = try #require(try NSRegularExpression(pattern: #""([a-z_]+)":"#).matches(in: text, range: NSRange(text.startIndex..., in: text))
            .compactMap { Range($0.range(at: 1), in: text).map { String(text[$0]) } })
        #expect(keys == keys.sorted(), "keys in order: \(keys)")
        #expect(!text.contains(#"\/"#), "slashes are not escaped")
    }

    @Test func metadataNamedLikeABuiltInKeyReplacesIt() throws {
        let line = JSONLogHandler.line(timestamp: timespec(tv_sec: 0, tv_nsec: 0), level: .info, label: "x", message: "m",
                                       handlerMetadata: [:], eventMetadata: ["msg": "from metadata", "ts": "custom"])
        let object = try Self.parse(line)
        #expect(object["msg"] == "from metadata")
        #expect(object["ts"] == "custom")
        #expect(object.count == 4)
    }

    @Test func timestampsAreUTCWithMillisecondsAndLeadingZeros() throws {
        var out: [UInt8] = []
        JSONLogHandler.appendTimestamp(timespec(tv_sec: 946_688_461, tv_nsec: 7_000_000), to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "2000-01-01T01:01:01.007Z")
    }

    @Test func theRequestDurationKeepsTwoDecimals() {
        #expect(RequestLogMiddleware<BasicRequestContext>.milliseconds(.microseconds(1520)) == "1.52")
        #expect(RequestLogMiddleware<BasicRequestContext>.milliseconds(.microseconds(1005)) == "1.01")
        #expect(RequestLogMiddleware<BasicRequestContext>.milliseconds(.seconds(2)) == "2000.00")
        #expect(RequestLogMiddleware<BasicRequestContext>.milliseconds(.nanoseconds(40)) == "0.00")
    }
}
