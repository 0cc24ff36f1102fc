@testable import ConnectRPC
import Foundation
import NIOCore
import Testing

/// The shared 5-byte framing and gRPC's header spellings, without a network.
@Suite struct EnvelopeTests {
    @Test func framesSplitAnywhereAreReassembled() throws {
        var wire = ByteBuffer()
        Envelope(payload: ByteBuffer(string: "first")).write(to: &wire)
        Envelope(flags: .compressed, payload: ByteBuffer(string: "")).write(to: &wire)
        Envelope(flags: .trailers, payload: ByteBuffer(string: "grpc-status: 0\r\n")).write(to: &wire)
        let bytes = Array(wire.readableBytesView)
        // Every split point, including inside a header.
        for split in 0...bytes.count {
            var reader = EnvelopeReader(maxMessageBytes: 100)
            var seen: [Envelope] = []
            reader.append(ByteBuffer(bytes: bytes[..<split]))
            while let envelope = try reader.next() { seen.append(envelope) }
            reader.append(ByteBuffer(bytes: bytes[split...]))
            while let envelope = try reader.next() { seen.append(envelope) }
            try reader.finish()
            #expect(seen.map { String(buffer: $0.payload) } == ["first", "", "grpc-status: 0\r\n"], "split at \(split)")
            #expect(seen.map(\.flags) == [[], .compressed, .trailers])
        }
    }

    @Test func anOversizedDeclarationIsRefusedBeforeItsBytesArrive() {
        var reader = EnvelopeReader(maxMessageBytes: 10)
        var header = ByteBuffer()
        header.writeInteger(UInt8(0))
        header.writeInteger(UInt32(11))
        reader.append(header)
        #expect(throws: EnvelopeReader.Failure.messageTooLarge(declared: 11, limit: 10)) { try reader.next() }
    }

    @Test func aStreamEndingInsideAFrameIsTruncated() throws {
        var reader = EnvelopeReader(maxMessageBytes: 100)
        var wire = Envelope(payload: ByteBuffer(string: "abcdef")).encoded()
        wire.moveWriterIndex(to: wire.writerIndex - 2)
        reader.append(wire)
        #expect(try reader.next() == nil)
        #expect(throws: EnvelopeReader.Failure.truncated(missing: 2)) { try reader.finish() }
    }

    @Test func grpcTimeoutsParseAndEncodeWithoutShrinking() {
        #expect(GRPCWire.parseTimeout("5S") == .seconds(5))
        #expect(GRPCWire.parseTimeout("250m") == .milliseconds(250))
        #expect(GRPCWire.parseTimeout("2H") == .seconds(7200))
        #expect(GRPCWire.parseTimeout("99999999n") == .nanoseconds(99_999_999))
        for bad in ["", "5", "S", "123456789S", "5s ", "-5S", "5x", "1.5S"] {
            #expect(GRPCWire.parseTimeout(bad) == nil, "\(bad)")
        }
        #expect(GRPCWire.timeoutHeader(.milliseconds(300)) == "300000u")
        #expect(GRPCWire.timeoutHeader(.seconds(3600)) == "3600000m")
        for duration in [Duration.nanoseconds(1), .microseconds(1_500), .seconds(5), .seconds(100_000)] {
            let header = GRPCWire.timeoutHeader(duration)
            #expect(header.count <= 9)
            #expect((GRPCWire.parseTimeout(header) ?? .zero) >= duration, "\(header)")
        }
    }

    @Test func grpcMessagesArePercentEncodedBothWays() {
        let message = "bad ünïcode: 100% \r\n\"quoted\""
        let encoded = GRPCWire.percentEncode(message)
        #expect(encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E })
        #expect(encoded.contains("100%25"))
        #expect(GRPCWire.percentDecode(encoded) == message)
        // Malformed escapes are kept as written.
        #expect(GRPCWire.percentDecode("50%zz%4") == "50%zz%4")
    }

    @Test func statusDetailsRoundTrip() throws {
        let value = Data([0x0A, 0x03] + Array("why".utf8)).base64EncodedString()
        let error = ConnectError(.failedPrecondition, "no", details: [.init(type: "google.protobuf.StringValue", value: value)])
        let encoded = GRPCWire.statusDetails(error)
        #expect(!encoded.hasSuffix("="))
        let details = GRPCWire.details(fromStatusDetails: encoded)
        #expect(details.map(\.type) == ["google.protobuf.StringValue"])
        #expect(details.first.flatMap { Data(base64URLOrStandard: $0.value) } == Data([0x0A, 0x03] + Array("why".utf8)))
        #expect(GRPCWire.code(ofStatus: 9) == .failedPrecondition)
        #expect(GRPCWire.code(ofStatus: 0) == nil)
        #expect(GRPCWire.code(ofStatus: 99) == .unknown)
        #expect(ConnectCode.allCases.allSatisfy { GRPCWire.code(ofStatus: GRPCWire.status(of: $0)) == $0 })
    }
}

/// The h2c server's `Date` header (IMF-fixdate, RFC 9110 §5.6.7), formatted without Foundation.
@Suite struct HTTPDateTests {
    @Test func formatsIMFFixdate() {
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        // RFC 9110's own example.
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(1_798_761_599) == "Thu, 31 Dec 2026 23:59:59 GMT")
    }
}
