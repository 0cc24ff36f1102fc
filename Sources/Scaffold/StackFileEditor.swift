/// Adds a service to devctl.yaml as text, so the file's comments and layout survive: the new
/// entry goes at the end of the `services:` block.
enum StackFileEditor {
    static func adding(_ entry: String, to text: String) throws -> String {
        var lines = text.components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix("services:") }) else {
            throw ScaffoldError.failure("devctl.yaml has no top-level services: block")
        }
        // The block ends at the next top-level key (a line starting with neither space nor '#').
        var end = lines.count
        for index in (start + 1)..<lines.count {
            let line = lines[index]
            if let first = line.first, first != " ", first != "#" {
                end = index
                break
            }
        }
        // Before the block's trailing blank lines.
        var insertAt = end
        while insertAt > start + 1, lines[insertAt - 1].trimmingCharacters(in: .whitespaces).isEmpty { insertAt -= 1 }
        let block = [""] + entry.components(separatedBy: "\n")
        lines.insert(contentsOf: block, at: insertAt)
        return lines.joined(separator: "\n")
    }
}
