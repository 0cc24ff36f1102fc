/// A SQL file cut into single statements, each with the line it starts on.
///
/// postgres-nio speaks only the extended query protocol, which takes one statement at a time,
/// so migration files are split here (no kept library does this). The splitter understands what
/// can hide a `;`: quoted strings and identifiers, `E'...'` escapes, dollar quotes (function
/// bodies, `DO` blocks), line comments and nested block comments, parentheses (`CREATE RULE …
/// DO ALSO (a; b)`), and SQL-standard routine bodies (`CREATE FUNCTION … BEGIN ATOMIC … END`,
/// where psql also counts `BEGIN`/`CASE` against `END`).
public struct SQLScript: Sendable, Equatable {
    /// One statement and where it sits in the file.
    public struct Statement: Sendable, Equatable {
        public var sql: String
        /// 1-based line of the statement's first character.
        public var line: Int
    }

    public var statements: [Statement]

    public init(_ text: String) {
        statements = SQLScript.split(text)
    }

    private static func split(_ text: String) -> [Statement] {
        let chars = Array(text.unicodeScalars)
        var statements: [Statement] = []
        var current = String.UnicodeScalarView()
        var line = 1
        var startLine: Int?
        var index = 0
        var hasCode = false
        var parenthesisDepth = 0
        var blockDepth = 0
        var leadingWords: [String] = []

        func append(_ scalar: Unicode.Scalar) {
            // Comments and blank lines before a statement's first code are left out, so that
            // PostgreSQL's error position counts from the statement's first line.
            if startLine != nil { current.append(scalar) }
            if scalar == "\n" { line += 1 }
        }
        func flush() {
            let sql = String(current).trimmingWhitespace()
            if hasCode, !sql.isEmpty, let startLine { statements.append(Statement(sql: sql, line: startLine)) }
            current = String.UnicodeScalarView()
            startLine = nil
            hasCode = false
            parenthesisDepth = 0
            blockDepth = 0
            leadingWords = []
        }
        /// `CREATE [OR REPLACE] FUNCTION|PROCEDURE`: only there do BEGIN/CASE … END nest.
        func isRoutineDefinition() -> Bool {
            let words = leadingWords.prefix(4)
            guard words.first == "CREATE" else { return false }
            let kind = words.count > 1 && words[1] == "OR" ? (words.count > 3 ? words[3] : "") : (words.count > 1 ? words[1] : "")
            return kind == "FUNCTION" || kind == "PROCEDURE"
        }
        func markCode() {
            if startLine == nil { startLine = line }
            hasCode = true
        }
        func peek(_ offset: Int) -> Unicode.Scalar? {
            index + offset < chars.count ? chars[index + offset] : nil
        }

        while index < chars.count {
            let c = chars[index]
            if c == "-", peek(1) == "-" { // line comment
                while index < chars.count, chars[index] != "\n" { append(chars[index]); index += 1 }
                continue
            }
            if c == "/", peek(1) == "*" { // block comment, nested as PostgreSQL allows
                var depth = 0
                repeat {
                    if chars[index] == "/", peek(1) == "*" { depth += 1; append("/"); append("*"); index += 2; continue }
                    if chars[index] == "*", peek(1) == "/" { depth -= 1; append("*"); append("/"); index += 2; continue }
                    append(chars[index]); index += 1
                } while depth > 0 && index < chars.count
                continue
            }
            if c == "'" || c == "\"" { // string or quoted identifier; doubled quote escapes
                markCode()
                // E'...' only when the E stands alone (not the end of ELSE or a name).
                let escapes = c == "'" && index > 0 && (chars[index - 1] == "E" || chars[index - 1] == "e")
                    && (index < 2 || !(chars[index - 2].properties.isAlphabetic || chars[index - 2] == "_" || ("0"..."9").contains(chars[index - 2])))
                append(c); index += 1
                while index < chars.count {
                    let d = chars[index]
                    if escapes, d == "\\", index + 1 < chars.count { append(d); append(chars[index + 1]); index += 2; continue }
                    append(d); index += 1
                    if d == c {
                        if index < chars.count, chars[index] == c { append(c); index += 1; continue }
                        break
                    }
                }
                continue
            }
            if c == "$", let tag = dollarTag(chars, at: index) { // $tag$ ... $tag$
                markCode()
                for scalar in tag { append(scalar) }
                index += tag.count
                while index < chars.count {
                    if chars[index] == "$", index + tag.count <= chars.count, Array(chars[index..<index + tag.count]) == tag {
                        for scalar in tag { append(scalar) }
                        index += tag.count
                        break
                    }
                    append(chars[index]); index += 1
                }
                continue
            }
            if c == ";" {
                if parenthesisDepth == 0 && blockDepth == 0 {
                    flush()
                } else {
                    append(c)
                }
                index += 1
                continue
            }
            if c == "(" { parenthesisDepth += 1 }
            if c == ")" { parenthesisDepth = max(0, parenthesisDepth - 1) }
            if c.properties.isAlphabetic || c == "_" { // a word: keywords matter for routine bodies
                markCode()
                var word = String.UnicodeScalarView()
                while index < chars.count, chars[index].properties.isAlphabetic || chars[index] == "_" || ("0"..."9").contains(chars[index]) {
                    word.append(chars[index])
                    append(chars[index])
                    index += 1
                }
                let keyword = String(word).uppercased()
                if leadingWords.count < 4 { leadingWords.append(keyword) }
                if isRoutineDefinition() {
                    if keyword == "BEGIN" || keyword == "CASE" { blockDepth += 1 }
                    if keyword == "END" { blockDepth = max(0, blockDepth - 1) }
                }
                continue
            }
            if !c.properties.isWhitespace { markCode() }
            append(c)
            index += 1
        }
        flush()
        return statements
    }

    /// The dollar-quote opener at `index` (`$$` or `$name$`), if there is one.
    private static func dollarTag(_ chars: [Unicode.Scalar], at index: Int) -> [Unicode.Scalar]? {
        // `$1` is a parameter, not a quote; a tag's first character is a letter or _.
        if index > 0, chars[index - 1].properties.isAlphabetic || chars[index - 1] == "_" || ("0"..."9").contains(chars[index - 1]) {
            return nil
        }
        var end = index + 1
        while end < chars.count {
            let c = chars[end]
            if c == "$" { return Array(chars[index...end]) }
            let isTagChar = c.properties.isAlphabetic || c == "_" || (end > index + 1 && ("0"..."9").contains(c))
            guard isTagChar else { return nil }
            end += 1
        }
        return nil
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }

    /// The 1-based line within `self` of a 1-based character position (PostgreSQL's `position`).
    func line(ofCharacterPosition position: Int) -> Int {
        // PostgreSQL counts code points; Characters would merge "\r\n" and combining marks.
        var line = 1
        for (offset, scalar) in unicodeScalars.enumerated() {
            if offset >= position - 1 { break }
            if scalar == "\n" { line += 1 }
        }
        return line
    }
}
