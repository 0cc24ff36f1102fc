// auth's password rules (Sources/Services/Auth/PasswordPolicy.swift), checked as the user types:
// a password that breaks one is never sent.
const common = new Set([
  "password", "password1", "password123", "12345678", "123456789", "1234567890", "qwerty123",
  "qwertyuiop", "letmein1", "iloveyou1", "admin123", "welcome1", "abc12345", "passw0rd",
  "football1", "monkey123", "dragon123", "sunshine1", "princess1", "trustno1",
]);

export interface Rule {
  label: string;
  ok: boolean;
}

export function passwordRules(password: string): Rule[] {
  const bytes = new TextEncoder().encode(password).length;
  return [
    { label: "at least 8 characters", ok: [...password].length >= 8 },
    { label: "a letter", ok: /\p{L}/u.test(password) },
    { label: "a digit", ok: /\p{N}/u.test(password) },
    { label: "at most 72 bytes", ok: bytes <= 72 && !password.includes("\0") },
    { label: "not a common password", ok: password.length > 0 && !common.has(password.toLowerCase()) },
  ];
}

export const emailLooksValid = (email: string) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) && email.length <= 254;
