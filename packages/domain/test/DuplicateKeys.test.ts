import { duplicateKeysOf, Email, normaliseName, Phone } from "@relata/domain"
import { describe, expect, it } from "vitest"

describe("DuplicateKeys", () => {
  it("ignores case, width, spacing and punctuation in names", () => {
    expect(normaliseName("ACME Trading, Ltd.")).toBe(normaliseName("acme  trading ltd"))
    expect(normaliseName("ＡＣＭＥ　贸易（上海）")).toBe(normaliseName("acme贸易上海"))
    expect(normaliseName("Acme")).not.toBe(normaliseName("Acne"))
  })

  it("keys a profile by name, e-mail and phone, when present", () => {
    const email = Email.make("sales@acme.example")
    const phone = Phone.make("+861012345678")
    expect(duplicateKeysOf({ name: "Acme Trading", email, phone })).toEqual({
      name: "acmetrading",
      email,
      phone,
    })
    expect(duplicateKeysOf({ name: "Acme Trading" })).toEqual({ name: "acmetrading" })
  })
})
