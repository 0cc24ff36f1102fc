/// What auth accepts as an email and a password; each refusal is a precise message.
enum PasswordPolicy {
    /// Passwords everybody tries first (a short list; the length and mix rules do the rest).
    static let common: Set<String> = [
        "password", "password1", "password123", "12345678", "123456789", "1234567890", "qwerty123",
        "qwertyuiop", "letmein1", "iloveyou1", "admin123", "welcome1", "abc12345", "passw0rd",
        "football1", "monkey123", "dragon123", "sunshine1", "princess1", "trustno1",
    ]

    /// Why `password` is refused, or `nil` when it is acceptable.
    static func problem(with password: String) -> String? {
        if password.count < 8 { return "password must be at least 8 characters" }
        if password.count > 72 { return "password must be at most 72 characters (bcrypt reads no further)" }
        if !password.contains(where: \.isLetter) { return "password must contain a letter" }
        if !password.contains(where: \.isNumber) { return "password must contain a digit" }
        if common.contains(password.lowercased()) { return "password is too common; choose another" }
        return nil
    }

    /// Why `email` is refused, or `nil`.
    static func problem(withEmail email: String) -> String? {
        guard email.count <= 254, email.wholeMatch(of: /[^@\s]+@[^@\s]+\.[^@\s]+/) != nil else {
            return "email must look like name@example.com"
        }
        return nil
    }
}
