import { type FeatureName, featureNames, type FlowFeatures } from "../flows/flow_features.ts";

/**
 * Column names of the TrActor seed's table ("Экспериментальные результаты"), in order, `label`
 * last. The seed spells fiat/biat/flowiat as flat/blat/flowlat; we keep its spelling here.
 */
export const seedColumns: readonly string[] = [
  ...featureNames.map((n) =>
    n.replace("fiat", "flat").replace("biat", "blat").replace("flowiat", "flowlat")
  ),
  "label",
];

/** How the seed prints a column: "real" columns always carry a decimal point ("0.", "192013."). */
const seedKinds: Record<FeatureName, "int" | "real"> = {
  duration: "int",
  total_fiat: "int",
  total_biat: "int",
  min_fiat: "int",
  min_biat: "int",
  max_fiat: "real",
  max_biat: "real",
  mean_fiat: "real",
  mean_biat: "real",
  flowPktsPerSecond: "real",
  flowBytesPerSecond: "real",
  min_flowiat: "int",
  max_flowiat: "int",
  mean_flowiat: "real",
  std_flowiat: "real",
  min_active: "int",
  mean_active: "int",
  max_active: "int",
  std_active: "int",
  min_idle: "int",
  mean_idle: "int",
  max_idle: "int",
  std_idle: "int",
};

/** Values printed for undefined features: the seed's convention and the ISCX files' one. */
const undefinedSeed: Partial<Record<FeatureName, number>> = {
  total_fiat: -1,
  total_biat: -1,
  min_fiat: -1,
  min_biat: -1,
  max_fiat: 0,
  max_biat: 0,
  mean_fiat: 0,
  mean_biat: 0,
};
const undefinedIscx: Partial<Record<FeatureName, number>> = {
  total_fiat: 0,
  total_biat: 0,
  min_fiat: -1,
  min_biat: -1,
  max_fiat: -1,
  max_biat: -1,
  mean_fiat: 0,
  mean_biat: 0,
};
/** Shared by both: flowiat of a one-packet flow and empty active/idle sets. */
function undefinedCommon(name: FeatureName): number {
  return name.startsWith("min_") || name.startsWith("max_") ? -1 : 0;
}

function stripZeros(s: string, keepDot: boolean): string {
  const e = s.indexOf("e");
  if (e >= 0) return stripZeros(s.slice(0, e), false) + s.slice(e);
  if (s.indexOf(".") < 0) return keepDot ? `${s}.` : s;
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48) end--;
  if (s.charCodeAt(end - 1) === 46 && !keepDot) end--;
  return s.slice(0, end);
}

/** Six significant digits, but never fewer than the integer part (the seed's "1634113."). */
function sixDigits(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1) {
    const intDigits = Math.floor(Math.log10(a)) + 1;
    return v.toFixed(Math.max(0, 6 - intDigits));
  }
  return v.toPrecision(6);
}

/** Formats a value the way the seed's table does. */
function seedValue(v: number, kind: "int" | "real"): string {
  if (kind === "real") {
    // A whole number keeps all its digits and a bare point ("1761.", "0."); this is what the
    // general path below gives it, without formatting and stripping the zeros.
    if (Number.isSafeInteger(v)) return `${v === 0 ? 0 : v}.`;
    return stripZeros(sixDigits(v), true);
  }
  return Number.isInteger(v) ? String(v) : stripZeros(sixDigits(v), false);
}

/** Rounds a plain decimal string half-up to `decimals` places, on its digits (no binary error). */
function roundDecimal(s: string, decimals: number): string {
  const neg = s.startsWith("-");
  const body = neg ? s.slice(1) : s;
  const dot = body.indexOf(".");
  if (dot < 0 || body.length - dot - 1 <= decimals) return s;
  const digits = (body.slice(0, dot) + body.slice(dot + 1, dot + 1 + decimals)).split("").map(
    Number,
  );
  if (body.charCodeAt(dot + 1 + decimals) >= 53) {
    let i = digits.length - 1;
    while (i >= 0 && digits[i] === 9) digits[i--] = 0;
    if (i >= 0) digits[i]!++;
    else digits.unshift(1);
  }
  const intLen = digits.length - decimals;
  const out = `${digits.slice(0, intLen).join("")}${decimals > 0 ? "." : ""}${
    digits.slice(intLen).join("")
  }`;
  return neg ? `-${out}` : out;
}

/** Rounds a plain decimal string half-up to `significant` significant digits. */
function roundSignificant(s: string, significant: number): string {
  const body = s.startsWith("-") ? s.slice(1) : s;
  const dot = body.indexOf(".");
  if (dot < 0) return s;
  const firstNonZero = body.search(/[1-9]/);
  if (firstNonZero < 0) return s;
  // Decimals that keep `significant` digits counted from the first non-zero digit.
  const intDigits = firstNonZero < dot ? dot - firstNonZero : -(firstNonZero - dot - 1);
  return roundDecimal(s, Math.max(0, significant - intDigits));
}

/**
 * Formats a value the way the ISCX ARFF files do. Their numbers went through a spreadsheet: the
 * tool's shortest decimal form of the double (Java's Double.toString, the same digits as
 * JavaScript's), rounded half-up to 15 significant digits, then to at most 10 decimals. Both
 * roundings are visible in the files (2 packets in 41 µs print as 48780.4878048781).
 */
export function iscxValue(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const shortest = String(v);
  if (shortest.includes("e")) return stripZeros(v.toFixed(10), false);
  return stripZeros(roundDecimal(roundSignificant(shortest, 15), 10), false);
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** CSV header line of the seed's table (with a trailing newline). */
export function seedCsvHeader(): string {
  return `${seedColumns.join(",")}\n`;
}

/** Per column: its kind and the value printed when undefined, looked up once. */
const seedFormat = featureNames.map((name) => ({
  name,
  kind: seedKinds[name],
  missing: undefinedSeed[name] ?? undefinedCommon(name),
}));

/** One CSV line of the seed's table for a flow's features and label. */
export function seedCsvRow(features: FlowFeatures, label: string): string {
  let line = "";
  for (const { name, kind, missing } of seedFormat) {
    const v = features[name];
    line += `${seedValue(v === null ? missing : v, kind)},`;
  }
  return `${line}${csvField(label)}\n`;
}

const iscxClasses = ["BROWSING", "CHAT", "STREAMING", "MAIL", "VOIP", "P2P", "FT"];

function arffNominal(s: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(s) ? s : `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/**
 * ARFF header with the ISCX attribute names and class attribute `class1`, so rows can be merged
 * with the ISCX time-based files. The class set is ISCX's (VPN- variants when a label starts with
 * "VPN-") plus any other labels given.
 */
export function arffHeader(labels: readonly string[] = []): string {
  const vpn = labels.some((l) => l.startsWith("VPN-"));
  const classes = iscxClasses.map((c) => (vpn ? `VPN-${c}` : c));
  for (const l of labels) if (l !== "" && !classes.includes(l)) classes.push(l);
  let s = "@RELATION <ISCXFlowMeter-generated-flows>\n\n";
  for (const name of featureNames) s += `@ATTRIBUTE ${name} NUMERIC\n`;
  s += `@ATTRIBUTE class1 {${classes.map(arffNominal).join(",")}}\n\n@DATA\n`;
  return s;
}

/** One ARFF data line in the ISCX conventions; an empty label is written as `?` (missing). */
export function arffRow(features: FlowFeatures, label: string): string {
  let line = "";
  for (const name of featureNames) {
    const v = features[name];
    line += `${iscxValue(v === null ? (undefinedIscx[name] ?? undefinedCommon(name)) : v)},`;
  }
  return `${line}${label === "" ? "?" : arffNominal(label)}\n`;
}
