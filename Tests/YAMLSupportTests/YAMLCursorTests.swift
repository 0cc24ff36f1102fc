import Testing
import Yams
import YAMLSupport

/// The line-aware decoding every config reader shares: each problem with file, line and key path.
@Suite struct YAMLCursorTests {
    private func cursor(_ yaml: String) throws -> (YAMLCursor, DiagnosticSink) {
        let sink = DiagnosticSink(file: "test.yaml")
        let node = try YAMLLock.withLock { try ConfigFileError.compose(yaml: yaml, file: "test.yaml") }
        return (YAMLCursor(node: node, keyPath: "", sink: sink), sink)
    }

    @Test func valuesOfTheWrongTypeAreReportedWithLineAndKeyPath() throws {
        let (root, sink) = try cursor("""
            server:
              port: eighty
              name: 42
              enabled: maybe
              tags: {a: b}
            """)
        let server = try #require(root.entries()?.first?.value)
        let fields = Dictionary(uniqueKeysWithValues: try #require(server.entries()).map { ($0.key, $0.value) })
        #expect(fields["port"]?.int == nil)
        #expect(fields["name"]?.string == "42") // a plain number is still text where text is wanted
        #expect(fields["enabled"]?.bool == nil)
        #expect(fields["tags"]?.stringList == nil)
        #expect(sink.diagnostics.map(\.description) == [
            #"test.yaml:2: server.port: expected an integer, got "eighty""#,
            #"test.yaml:4: server.enabled: expected true or false, got "maybe""#,
            "test.yaml:5: server.tags: expected a list of strings, got a mapping",
        ])
    }

    @Test func unknownKeysAreNamedWithASuggestion() throws {
        let (root, sink) = try cursor("""
            prot: 1
            port: 2
            zzz: 4
            """)
        let entries = try #require(root.entries(allowedKeys: ["port", "host"]))
        #expect(entries.map(\.key) == ["port"])
        #expect(sink.diagnostics.map(\.description) == [
            "test.yaml:1: prot: unknown key (did you mean 'port'?); allowed: port, host",
            "test.yaml:3: zzz: unknown key; allowed: port, host",
        ])
    }

    @Test func duplicateKeysAreRefusedWithTheirLine() {
        let error = #expect(throws: ConfigFileError.self) {
            _ = try YAMLLock.withLock { try ConfigFileError.compose(yaml: "services:\n  a:\n    port: 1\n    port: 2\n", file: "dup.yaml") }
        }
        #expect(error?.message == "dup.yaml:4: duplicate key 'port' in one mapping")
    }

    @Test func listsAcceptOneStringAndReportBadItemsByIndex() throws {
        let (root, sink) = try cursor("""
            one: alone
            many: [a, b]
            bad: [a, {x: 1}]
            nulls: ~
            """)
        let fields = Dictionary(uniqueKeysWithValues: try #require(root.entries()).map { ($0.key, $0.value) })
        #expect(fields["one"]?.stringList == ["alone"])
        #expect(fields["many"]?.stringList == ["a", "b"])
        #expect(fields["bad"]?.stringList == ["a"])
        #expect(fields["nulls"]?.string == nil)
        #expect(sink.diagnostics.map(\.description) == [
            "test.yaml:3: bad[1]: expected a string, got a mapping",
            "test.yaml:4: nulls: expected a string, got null",
        ])
    }

    @Test func syntaxErrorsAndEmptyFilesAreLocatedDiagnostics() throws {
        let broken = #expect(throws: ConfigFileError.self) { _ = try ConfigFileError.compose(yaml: "a: [1, 2\nb: 3\n", file: "broken.yaml") }
        #expect(broken?.diagnostics.first?.line != nil)
        #expect(broken?.message.hasPrefix("broken.yaml:") == true)
        #expect(broken?.message.contains("invalid YAML") == true)
        #expect(broken?.exitCode == 2)
        let empty = #expect(throws: ConfigFileError.self) { _ = try ConfigFileError.compose(yaml: "", file: "empty.yaml") }
        #expect(empty?.message == "empty.yaml: the file is empty")
    }

    @Test func suggestionsAreNearMissesOnly() {
        #expect(closestMatch(to: "depends_ob", in: ["depends_on", "database"]) == "depends_on")
        #expect(closestMatch(to: "colour", in: ["color"]) == "color")
        #expect(closestMatch(to: "completely", in: ["port", "host"]) == nil)
        #expect(closestMatch(to: "", in: ["ab"]) == "ab")
    }
}
