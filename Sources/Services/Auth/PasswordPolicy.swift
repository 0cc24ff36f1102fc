/// What auth accepts as an email and a password; each refusal is a precise message.
enum PasswordPolicy {
    /// Passwords everybody tries first (a short list; the length and mix rules do the rest).
    static let common: Set<String> = [
        "password", "password1", "password123", "12345678", "123456789", "1234567890", "qwerty123",
        "qwertyuiop", "letmein1", "iloveyou1", "admin123", "welcome1", "abc12345", "passw0rd",
        "football1", "monkey123", "dragon123", "sunshine1", "princess1", "trustno1",
    ]

    /// bcrypt reads at most 72 bytes and, in C implementations, stops at a NUL byte: two
    /// passwords equal up to there would share one hash. Such passwords are refused rather than
    /// pre-hashed: refusing keeps the stored hashes plain bcrypt (the seed's Go service, and
    /// Go's bcrypt, which also refuses them, can still check them).
    static let maximumBytes = 72

    /// Whether bcrypt sees every byte of `password`.
    static func isWithinBcryptLimits(_ password: String) -> Bool {
        password.utf8.count <= maximumBytes && !password.utf8.contains(0)
    }

    /// Why `password` is refused, or `nil` when it is acceptable.
    static func problem(with password: String) -> String? {
        if password.count < 8 { return "password must be at least 8 characters" }
        let bytes = password.utf8.count
        if bytes > maximumBytes {
            return "password must be at most \(maximumBytes) bytes in UTF-8 (bcrypt reads no further); this one is \(bytes) bytes"
        }
        if password.utf8.contains(0) { return "password must not contain a NUL character" }
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
