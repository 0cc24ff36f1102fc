import Yams

/// A position in the parsed YAML tree that knows its key path and source line, so every
/// decoding problem can be reported as `file:line: key.path: message`.
///
/// Decoding collects problems into a shared ``DiagnosticSink`` instead of stopping at the
/// first, so one run of `devctl` shows everything wrong with the file.
public struct YAMLCursor {
    public let node: Node
    public let keyPath: String
    public let sink: DiagnosticSink
    /// The line of the key this value belongs to: for a nested mapping, where a reader looks.
    public var keyLine: Int? = nil

    public var line: Int? { keyLine ?? node.mark?.line }

    public init(node: Node, keyPath: String, sink: DiagnosticSink, keyLine: Int? = nil) {
        self.node = node
        self.keyPath = keyPath
        self.sink = sink
        self.keyLine = keyLine
    }

    public func report(_ message: String, line: Int? = nil, keyPath: String? = nil) {
        sink.add(ConfigDiagnostic(file: sink.file, line: line ?? self.line, keyPath: keyPath ?? self.keyPath, message: message))
    }

    private func child(_ node: Node, key: String, keyLine: Int?) -> YAMLCursor {
        YAMLCursor(node: node, keyPath: keyPath.isEmpty ? key : "\(keyPath).\(key)", sink: sink, keyLine: keyLine)
    }

    /// The entries of a mapping, in file order; reports keys outside `allowedKeys` and duplicates.
    public func entries(allowedKeys: [String]? = nil) -> [(key: String, value: YAMLCursor)]? {
        guard case .mapping(let mapping) = node else {
            report("expected a mapping, got \(describe(node))")
            return nil
        }
        var seen = Set<String>()
        var result: [(key: String, value: YAMLCursor)] = []
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.scalar?.string else {
                report("keys must be plain strings", line: keyNode.mark?.line)
                continue
            }
            let value = child(valueNode, key: key, keyLine: keyNode.mark?.line)
            if !seen.insert(key).inserted {
                report("duplicate key '\(key)'", line: keyNode.mark?.line, keyPath: value.keyPath)
                continue
            }
            if let allowedKeys, !allowedKeys.contains(key) {
                let suggestion = closestMatch(to: key, in: allowedKeys).map { " (did you mean '\($0)'?)" } ?? ""
                report("unknown key\(suggestion); allowed: \(allowedKeys.joined(separator: ", "))",
                       line: keyNode.mark?.line, keyPath: value.keyPath)
                continue
            }
            result.append((key, value))
        }
        return result
    }

    public var int: Int? {
        if let scalar = node.scalar, scalar.style == .plain, let value = Int(scalar.string) { return value }
        report("expected an integer, got \(describe(node))")
        return nil
    }

    public var string: String? {
        if let scalar = node.scalar, !(scalar.style == .plain && scalar.string == "~" || scalar.style == .plain && scalar.string == "null") {
            return scalar.string
        }
        report("expected a string, got \(describe(node))")
        return nil
    }

    public var bool: Bool? {
        if let scalar = node.scalar, scalar.style == .plain, let value = Bool.construct(from: scalar) { return value }
        report("expected true or false, got \(describe(node))")
        return nil
    }

    public var isFalse: Bool {
        if let scalar = node.scalar, scalar.style == .plain, Bool.construct(from: scalar) == false { return true }
        return false
    }

    /// A list of strings; a single string is accepted as a list of one.
    public var stringList: [String]? {
        switch node {
        case .scalar:
            return string.map { [$0] }
        case .sequence(let sequence):
            var values: [String] = []
            for (index, item) in sequence.enumerated() {
                if let value = YAMLCursor(node: item, keyPath: "\(keyPath)[\(index)]", sink: sink).string {
                    values.append(value)
                }
            }
            return values
        default:
            report("expected a list of strings, got \(describe(node))")
            return nil
        }
    }

    /// The line of entry `index` in a sequence node (for diagnostics on list items).
    public func lineOfItem(_ index: Int) -> Int? {
        guard case .sequence(let sequence) = node, index < sequence.count else { return line }
        return sequence[index].mark?.line
    }
}

/// Collects diagnostics while one file is decoded (single-threaded, during one parse).
public final class DiagnosticSink {
    public let file: String
    public private(set) var diagnostics: [ConfigDiagnostic] = []

    public init(file: String) {
        self.file = file
    }

    public func add(_ diagnostic: ConfigDiagnostic) {
        diagnostics.append(diagnostic)
    }
}

/// How a node reads in an error message: scalars quoted as written, containers by kind.
public func describe(_ node: Node) -> String {
    switch node {
    case .scalar(let scalar):
        if scalar.style == .plain {
            if scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" { return "null" }
            if Int(scalar.string) != nil || Bool.construct(from: scalar) != nil { return scalar.string }
        }
        return "\"\(scalar.string)\""
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
}

/// The allowed key nearest to a typo (edit distance ≤ 2), for "did you mean" hints.
public func closestMatch(to word: String, in candidates: [String]) -> String? {
    func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
    let best = candidates.map { ($0, distance(word, $0)) }.min { $0.1 < $1.1 }
    guard let best, best.1 <= 2 else { return nil }
    return best.0
}
