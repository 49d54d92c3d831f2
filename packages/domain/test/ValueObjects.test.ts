import {
  CurrencyCode,
  CustomerCommandSchemas,
  CustomerId,
  Email,
  EmailFromString,
  Instant,
  InstantFromString,
  Money,
  Phone,
  PhoneFromString,
  RegisterLead,
} from "@relata/domain"
import { Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const decode =
  <S extends Schema.Decoder<unknown>>(schema: S) =>
  (input: unknown) =>
    Schema.decodeUnknownResult(schema)(input)
const ok = <S extends Schema.Decoder<unknown>>(schema: S, input: unknown) =>
  Schema.decodeUnknownSync(schema)(input)
const valid = <S extends Schema.Decoder<unknown>>(schema: S, input: unknown) =>
  decode(schema)(input)._tag === "Success"

describe("value objects", () => {
  describe("Email", () => {
    it("normalises what people type: trimmed and lower-cased", () => {
      expect(ok(EmailFromString, "  Ana.Li@Example.COM ")).toBe("ana.li@example.com")
    })

    it("rejects what is not an address", () => {
      for (const input of ["", "ana", "ana@", "@example.com", "ana li@example.com", "ana@example"]) {
        expect(valid(EmailFromString, input), input).toBe(false)
      }
    })

    it("stores only the normal form", () => {
      expect(valid(Email, "ana@example.com")).toBe(true)
      expect(valid(Email, "Ana@example.com")).toBe(false)
      expect(valid(Email, " ana@example.com")).toBe(false)
    })
  })

  describe("Phone", () => {
    it("strips separators and keeps a leading +", () => {
      expect(ok(PhoneFromString, "+86 (10) 1234-5678")).toBe("+861012345678")
      expect(ok(PhoneFromString, "010.1234 5678")).toBe("01012345678")
    })

    it("rejects letters and a + anywhere but first", () => {
      for (const input of ["call me", "12+345", "12", "+"])
        expect(valid(PhoneFromString, input), input).toBe(false)
      expect(valid(Phone, "+86 10")).toBe(false)
    })
  })

  describe("Money", () => {
    it("is whole, non-negative minor units in an ISO 4217 currency", () => {
      expect(ok(Money, { amountMinor: 1999, currency: "CNY" })).toEqual({
        amountMinor: 1999,
        currency: "CNY",
      })
      for (const input of [
        { amountMinor: 19.99, currency: "CNY" },
        { amountMinor: -1, currency: "CNY" },
        { amountMinor: 1, currency: "cny" },
        { amountMinor: 1, currency: "YUAN" },
      ]) {
        expect(valid(Money, input), JSON.stringify(input)).toBe(false)
      }
      expect(CurrencyCode.make("EUR")).toBe("EUR")
    })
  })

  describe("Instant", () => {
    it("accepts only the canonical UTC form", () => {
      expect(valid(Instant, "2024-02-29T23:59:59.999Z")).toBe(true)
      for (const input of [
        "2023-02-29T00:00:00.000Z",
        "2024-04-31T00:00:00.000Z",
        "2024-01-01T24:00:00.000Z",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.000+01:00",
        "2024-01-01",
      ]) {
        expect(valid(Instant, input), input).toBe(false)
      }
    })

    it("agrees with Date on every instant it can represent", () => {
      fc.assert(
        fc.property(
          fc.date({
            min: new Date("0000-01-01T00:00:00.000Z"),
            max: new Date("9999-12-31T23:59:59.999Z"),
            noInvalidDate: true,
          }),
          (date) => {
            expect(valid(Instant, date.toISOString())).toBe(true)
          },
        ),
        { numRuns: 1_000 },
      )
    })

    it("orders like the instants it names, so comparing is a string comparison", () => {
      const iso = fc.date({
        min: new Date("0000-01-01T00:00:00.000Z"),
        max: new Date("9999-12-31T23:59:59.999Z"),
        noInvalidDate: true,
      })
      fc.assert(
        fc.property(iso, iso, (a, b) => {
          expect(a.toISOString() < b.toISOString()).toBe(a.getTime() < b.getTime())
        }),
        { numRuns: 1_000 },
      )
    })

    it("decodes the ISO forms people send into the canonical one", () => {
      expect(ok(InstantFromString, "2024-03-01")).toBe("2024-03-01T00:00:00.000Z")
      expect(ok(InstantFromString, "2024-03-01T10:00+08:00")).toBe("2024-03-01T02:00:00.000Z")
      expect(ok(InstantFromString, "2024-03-01T10:00:00.5Z")).toBe("2024-03-01T10:00:00.500Z")
      expect(valid(InstantFromString, "2024-03-01T10:00:00")).toBe(false)
      expect(valid(InstantFromString, "yesterday")).toBe(false)
    })
  })

  describe("ids", () => {
    it("fit in a stream name", () => {
      expect(valid(CustomerId, "01HZX3K9Q0-acme")).toBe(true)
      for (const input of ["", "-leading", "has space", "x".repeat(129), "customer/1"]) {
        expect(valid(CustomerId, input), input).toBe(false)
      }
    })
  })

  describe("commands decoded at the edge", () => {
    it("come out canonical", () => {
      const command = ok(RegisterLead, {
        _tag: "RegisterLead",
        commandId: "c-1",
        customerId: "customer-1",
        actor: { id: "rep-1", role: "rep" },
        issuedAt: "2024-03-01T10:00:00+08:00",
        profile: { name: "Acme", email: " Sales@Acme.Example ", phone: "+86 10 1234 5678" },
        source: "web form",
        owner: "rep-1",
      })
      expect(command).toMatchObject({
        issuedAt: "2024-03-01T02:00:00.000Z",
        profile: { email: "sales@acme.example", phone: "+861012345678" },
      })
    })

    it("need a reason where the rule asks for one", () => {
      const envelope = {
        commandId: "c-1",
        customerId: "customer-1",
        actor: { id: "rep-1", role: "manager" },
        issuedAt: "2024-03-01T00:00:00.000Z",
      }
      const needReason = [
        "MarkDealLost",
        "ChurnCustomer",
        "FreezeAccount",
        "UnfreezeAccount",
        "PromoteToLoyal",
      ] as const
      for (const tag of needReason) {
        const schema = CustomerCommandSchemas[tag]
        expect(valid(schema, { _tag: tag, ...envelope }), tag).toBe(false)
        expect(valid(schema, { _tag: tag, ...envelope, reason: "  " }), tag).toBe(false)
        expect(valid(schema, { _tag: tag, ...envelope, reason: "agreed with the customer" }), tag).toBe(true)
      }
      expect(valid(CustomerCommandSchemas.ChangeTier, { _tag: "ChangeTier", ...envelope, to: "A" })).toBe(
        false,
      )
    })
  })
})
