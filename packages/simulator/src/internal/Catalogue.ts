/** The words the simulator writes: company and contact names, sources, reasons, follow-up notes. */

export const companyPrefixes = [
  "Acme",
  "Northwind",
  "Golden Bridge",
  "Blue River",
  "Jade Harbor",
  "Summit",
  "Evergreen",
  "Silverline",
  "Red Lantern",
  "Pacific",
  "Great Wall",
  "Lotus",
  "Orion",
  "Pinnacle",
  "Crescent",
  "Phoenix",
  "Harmony",
  "Vertex",
  "Bright Star",
  "Oakridge",
  "Sunrise",
  "Meridian",
  "Zenith",
  "Cedar",
  "Dragon Gate",
  "Aurora",
  "Bluewater",
  "Ironwood",
  "Maple",
  "Horizon",
  "Kestrel",
  "Lighthouse",
  "Riverside",
  "Tianhe",
  "Huaxia",
] as const

export const companyNouns: Readonly<Record<string, ReadonlyArray<string>>> = {
  Manufacturing: ["Precision Parts", "Machinery", "Metalworks", "Industrial", "Components"],
  Retail: ["Trading", "Stores", "Retail Group", "Mart", "Supply"],
  Software: ["Software", "Digital", "Systems", "Cloud", "Data"],
  Logistics: ["Logistics", "Freight", "Shipping", "Express", "Transport"],
  Construction: ["Construction", "Builders", "Engineering", "Materials", "Projects"],
  Healthcare: ["Medical", "Health", "Pharma", "Clinics", "Biotech"],
  Finance: ["Capital", "Finance", "Leasing", "Advisors", "Insurance"],
  Education: ["Learning", "Academy", "Education", "Training", "Campus"],
}
export const genericNouns = ["Trading", "Holdings", "Group", "Enterprises", "Solutions"] as const

export const legalSuffixes = ["Co., Ltd.", "Ltd.", "GmbH", "Inc.", "S.r.l.", "LLC"] as const

export const givenNames = [
  "Wei",
  "Fang",
  "Jing",
  "Lei",
  "Min",
  "Na",
  "Yang",
  "Hui",
  "Tao",
  "Xin",
  "Anna",
  "Marco",
  "Julia",
  "Thomas",
  "Sarah",
  "David",
  "Laura",
  "Paul",
  "Elena",
  "James",
  "Chloe",
  "Lucas",
  "Mia",
  "Noah",
] as const
export const familyNames = [
  "Wang",
  "Li",
  "Zhang",
  "Liu",
  "Chen",
  "Yang",
  "Zhao",
  "Huang",
  "Zhou",
  "Wu",
  "Smith",
  "Muller",
  "Rossi",
  "Dubois",
  "Garcia",
  "Johnson",
  "Brown",
  "Novak",
  "Schmidt",
  "Martin",
] as const
export const contactTitles = [
  "Purchasing Manager",
  "Procurement Director",
  "CEO",
  "CFO",
  "Operations Manager",
  "IT Director",
  "Head of Sales",
  "Office Manager",
  "General Manager",
  "Buyer",
] as const

export const streets = [
  "Renmin Road",
  "Zhongshan Road",
  "Jianguo Avenue",
  "Hauptstrasse",
  "Via Roma",
  "Main Street",
  "Market Street",
  "Harbour Road",
  "Century Avenue",
  "Station Road",
] as const
export const cities: Readonly<Record<string, ReadonlyArray<string>>> = {
  "North China": ["Beijing", "Tianjin", "Shijiazhuang"],
  "East China": ["Shanghai", "Hangzhou", "Nanjing", "Suzhou"],
  "South China": ["Guangzhou", "Shenzhen", "Xiamen"],
  Europe: ["Milan", "Munich", "Lyon", "Rotterdam"],
  "North America": ["Chicago", "Toronto", "Seattle"],
}
export const otherCities = ["Springfield", "Riverton", "Fairview"] as const

/** Country calling codes by region; others use +1. */
export const callingCodes: Readonly<Record<string, string>> = {
  "North China": "+86",
  "East China": "+86",
  "South China": "+86",
  Europe: "+39",
  "North America": "+1",
}

export const leadSources = [
  { name: "trade fair", weight: 3 },
  { name: "web form", weight: 4 },
  { name: "referral", weight: 3 },
  { name: "cold call", weight: 2 },
  { name: "partner", weight: 2 },
  { name: "marketplace listing", weight: 2 },
] as const

export const leadLossReasons = [
  { name: "No intention for now", weight: 4 },
  { name: "No budget this year", weight: 3 },
  { name: "Unreachable after repeated attempts", weight: 2 },
  { name: "Not a fit for our products", weight: 2 },
] as const
export const prospectLossReasons = [
  { name: "Chose a competitor", weight: 4 },
  { name: "Price too high", weight: 3 },
  { name: "Project postponed", weight: 2 },
  { name: "Key decision-maker not found", weight: 2 },
] as const
/** When a deal runs out of undecided rounds. */
export const stalledReason = "No response after repeated contact"
export const winBackLossReason = "Declined to come back"

export const churnReasons = [
  { name: "Switched to a competitor", weight: 4 },
  { name: "Price increase", weight: 2 },
  { name: "Service complaints", weight: 2 },
  { name: "Budget cuts", weight: 2 },
  { name: "Business closed", weight: 1 },
  { name: "Moved purchasing in-house", weight: 1 },
] as const

export const freezeReasons = [
  "Payment overdue",
  "Contract dispute",
  "Compliance review",
  "Customer request",
] as const
export const unfreezeReasons = [
  "Payment received",
  "Dispute settled",
  "Review completed",
  "Customer request",
] as const

export const qualifyReasons = [
  "Budget confirmed with the department manager",
  "Need and timeline confirmed",
  "Decision-maker engaged",
] as const
export const reopenReasons = ["Customer got back in touch", "New budget year", "New contact person"] as const
export const winBackReasons = [
  "Win-back campaign",
  "Former customer asked for an offer",
  "New product line",
] as const
export const handPromotionReasons = [
  "Strategic account",
  "Framework agreement signed",
  "Long-standing relationship",
] as const
export const tierUpReasons = [
  "Key account review: growth potential",
  "Large order expected",
  "New framework contract",
] as const
export const tierDownReasons = [
  "Key account review: lower potential",
  "Orders declining",
  "Budget reduced",
] as const
export const suggestedTierReason = "Accepted the classification's suggestion"
export const handoverReasons = [
  "Territory realignment",
  "Workload balancing",
  "Customer asked for a new rep",
] as const
export const repLeftReason = "Rep left the company: handover"
export const duplicateReason = "Confirmed by the manager: separate subsidiary with its own purchasing"

export const productLines = [
  "Annual licence",
  "Spare parts",
  "Consulting package",
  "Maintenance contract",
  "Hardware order",
  "Training",
  "Subscription renewal",
  "Custom project",
] as const

export const followUpNotes = [
  { summary: "Checked satisfaction with the last delivery", outcome: "Satisfied" },
  { summary: "Discussed upcoming needs", outcome: "Interested in a quote" },
  { summary: "Presented the new product line", outcome: "Will consider" },
  { summary: "Routine check-in", outcome: "No action needed" },
  { summary: "Followed up on an open quote", outcome: "Decision next month" },
  { summary: "Resolved a billing question", outcome: "Resolved" },
] as const
