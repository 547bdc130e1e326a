// analytics.ts — the analytics page's GraphQL documents, and its filters: the range, the bucket width and the
// assistant as they stand in the address (`?range=30d&granularity=DAY`), the time window they mean (UTC, as the
// server counts), the series' buckets with the empty ones filled in, and the CSV export's address.
import { graphql } from "../gql";
import type { AnalyticsGranularity } from "../gql/graphql";
import type { Problem } from "./problems";

export const AnalyticsDocument = graphql(`
  query Analytics($from: DateTime!, $to: DateTime!, $granularity: AnalyticsGranularity!, $assistantId: ID) {
    analytics {
      conversations(from: $from, to: $to, granularity: $granularity, assistantId: $assistantId) {
        granularity
        from
        to
        total
        messages
        averageMessagesPerConversation
        handoffRate
        resolutionRateWithoutHuman
        newConversations {
          start
          count
        }
        firstResponse {
          count
          medianSeconds
          p90Seconds
        }
        sentiment {
          negative
          neutral
          positive
          unknown
        }
        csat {
          count
          average
        }
        busiestHours {
          hour
          messages
        }
        byStatus {
          label
          count
        }
      }
      knowledgeBase(from: $from, to: $to, granularity: $granularity, assistantId: $assistantId) {
        total
        active
        queries
        failedQueries
        failedRate
        queriesPerBucket {
          start
          queries
          failed
        }
        topFailedQueries {
          normalized
          example
          count
        }
        topEntries {
          entryId
          title
          hits
        }
        unusedEntries {
          entryId
          title
        }
        unusedEntryCount
        feedbackByEntry {
          entryId
          title
          helpful
          notHelpful
        }
      }
    }
  }
`);

export const AnalyticsAssistantsDocument = graphql(`
  query AnalyticsAssistants {
    assistants {
      id
      name
    }
  }
`);

export type RangeKey = "7d" | "30d" | "90d" | "custom";

export const RANGES: readonly { value: RangeKey; label: string; days: number }[] = [
  { value: "7d", label: "Last 7 days", days: 7 },
  { value: "30d", label: "Last 30 days", days: 30 },
  { value: "90d", label: "Last 90 days", days: 90 },
  { value: "custom", label: "Custom dates", days: 0 },
];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const GRANULARITIES: readonly { value: AnalyticsGranularity; label: string; width: number }[] = [
  { value: "HOUR", label: "Hour", width: HOUR },
  { value: "DAY", label: "Day", width: DAY },
  { value: "WEEK", label: "Week", width: 7 * DAY },
];

/** Most buckets a series may have (the server refuses more). */
export const MAX_BUCKETS = 2000;

/** What the page shows, as the address says it; `from` and `to` (YYYY-MM-DD, both included) for custom dates. */
export interface Filters {
  range: RangeKey;
  from: string;
  to: string;
  granularity: AnalyticsGranularity;
  assistant: string;
}

/** The time range of the figures: `from` included, `to` excluded. */
export interface Window {
  from: Date;
  to: Date;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A YYYY-MM-DD date as the UTC midnight that starts it, or null. */
export function parseDay(text: string): Date | null {
  if (!DATE.test(text)) return null;
  const day = new Date(`${text}T00:00:00Z`);
  return Number.isNaN(day.getTime()) || dayInput(day) !== text ? null : day;
}

/** The UTC date of a moment, as YYYY-MM-DD (the value of a date input). */
export function dayInput(at: Date): string {
  return at.toISOString().slice(0, 10);
}

function midnight(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}

/** The end of the hour under way: the figures of a relative range end there, so a reload in the hour agrees. */
function hourEnd(now: Date): Date {
  return new Date(Math.ceil(now.getTime() / HOUR) * HOUR);
}

/** The last `days` days, today included: from midnight (UTC) of the first, to the end of the current hour. */
export function lastDays(days: number, now = new Date()): Window {
  return { from: new Date(midnight(now).getTime() - (days - 1) * DAY), to: hourEnd(now) };
}

/** The filters of the address; what is missing or unknown takes its default (the last 30 days, by day). */
export function readFilters(search: URLSearchParams, now = new Date()): Filters {
  const range = RANGES.find((r) => r.value === search.get("range"))?.value ?? "30d";
  const granularity = GRANULARITIES.find((g) => g.value === search.get("granularity"))?.value ?? "DAY";
  const assistant = search.get("assistant") ?? "";
  if (range !== "custom") return { range, from: "", to: "", granularity, assistant };
  // Custom dates keep what the address says, even wrong (the page says what is wrong); missing ones are
  // those of the last 30 days.
  const fallback = lastDays(30, now);
  return {
    range,
    from: search.get("from") ?? dayInput(fallback.from),
    to: search.get("to") ?? dayInput(now),
    granularity,
    assistant,
  };
}

/** The address's query for the filters: `range=30d&granularity=DAY`, the dates and the assistant when set. */
export function filterQuery(filters: Filters): string {
  const search = new URLSearchParams({ range: filters.range });
  if (filters.range === "custom") {
    search.set("from", filters.from);
    search.set("to", filters.to);
  }
  search.set("granularity", filters.granularity);
  if (filters.assistant) search.set("assistant", filters.assistant);
  return search.toString();
}

/** The window the filters mean, or the problems (beside `from`, `to` or `granularity`) that keep it from one. */
export function windowOf(
  filters: Filters,
  now = new Date(),
): { window: Window; problems: [] } | { window: null; problems: Problem[] } {
  let window: Window;
  if (filters.range === "custom") {
    const from = parseDay(filters.from);
    const to = parseDay(filters.to);
    const problems: Problem[] = [];
    if (!from) problems.push({ field: "from", message: "Enter the first day as a date." });
    if (!to) problems.push({ field: "to", message: "Enter the last day as a date." });
    if (!from || !to) return { window: null, problems };
    if (to < from) {
      return {
        window: null,
        problems: [{ field: "to", message: "The last day cannot be before the first day." }],
      };
    }
    const end = new Date(Math.min(to.getTime() + DAY, hourEnd(now).getTime()));
    if (end <= from) {
      return {
        window: null,
        problems: [{ field: "from", message: "The first day cannot be in the future." }],
      };
    }
    window = { from, to: end };
  } else {
    window = lastDays(RANGES.find((r) => r.value === filters.range)?.days ?? 30, now);
  }
  if (bucketCount(window, filters.granularity) > MAX_BUCKETS) {
    return { window: null, problems: [{ field: "granularity", message: tooMany(filters.granularity) }] };
  }
  return { window, problems: [] };
}

/** The longest range a bucket width covers, in days: 83 by the hour, 2,000 by the day. */
export function longestRange(granularity: AnalyticsGranularity): number {
  return Math.floor((MAX_BUCKETS * width(granularity)) / DAY);
}

function tooMany(granularity: AnalyticsGranularity): string {
  const days = longestRange(granularity).toLocaleString();
  if (granularity === "HOUR") {
    return `Hourly figures cover at most ${days} days: choose a shorter range, or group by day or week.`;
  }
  if (granularity === "DAY") {
    return `Daily figures cover at most ${days} days: choose a shorter range, or group by week.`;
  }
  return `Weekly figures cover at most ${days} days: choose a shorter range.`;
}

function width(granularity: AnalyticsGranularity): number {
  return GRANULARITIES.find((g) => g.value === granularity)?.width ?? DAY;
}

/** How many buckets the server counts in the window (as it checks the limit). */
export function bucketCount(window: Window, granularity: AnalyticsGranularity): number {
  return Math.floor((window.to.getTime() - window.from.getTime()) / width(granularity));
}

/** Whether hourly buckets fit the window. */
export function fitsHourly(window: Window | null): boolean {
  return window !== null && bucketCount(window, "HOUR") <= MAX_BUCKETS;
}

export function granularityName(granularity: AnalyticsGranularity): string {
  return granularity === "HOUR" ? "hour" : granularity === "WEEK" ? "week" : "day";
}

/** The start of the bucket that holds `at`: its hour, its day, or the Monday of its ISO week (UTC). */
function bucketStart(at: Date, granularity: AnalyticsGranularity): Date {
  if (granularity === "HOUR") return new Date(Math.floor(at.getTime() / HOUR) * HOUR);
  const day = midnight(at);
  if (granularity === "DAY") return day;
  return new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY);
}

/** Every bucket of the window, oldest first: the server leaves the empty ones out, the charts show them. */
export function bucketStarts(window: Window, granularity: AnalyticsGranularity): Date[] {
  const starts: Date[] = [];
  const step = width(granularity);
  for (let at = bucketStart(window.from, granularity).getTime(); at < window.to.getTime(); at += step) {
    starts.push(new Date(at));
  }
  return starts;
}

/** A series' values for every bucket of `starts`, 0 where the server sent none. */
export function fill<T extends { start: string }>(
  starts: readonly Date[],
  buckets: readonly T[],
  value: (bucket: T) => number,
): number[] {
  const byStart = new Map(buckets.map((b) => [new Date(b.start).getTime(), value(b)]));
  return starts.map((s) => byStart.get(s.getTime()) ?? 0);
}

const dayFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
const fullDayFormat = new Intl.DateTimeFormat(undefined, {
  day: "numeric",
  month: "short",
  year: "numeric",
  timeZone: "UTC",
});
const hourFormat = new Intl.DateTimeFormat(undefined, {
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
  timeZone: "UTC",
});

/** A bucket's name on a chart's axis and in its table: "6 Nov", "6 Nov, 14:00", "Week of 2 Nov". */
export function bucketLabel(start: Date, granularity: AnalyticsGranularity): string {
  if (granularity === "HOUR") return hourFormat.format(start);
  if (granularity === "WEEK") return `Week of ${dayFormat.format(start)}`;
  return dayFormat.format(start);
}

/** The window in words: "7 Nov 2026 – 6 Dec 2026" (its last day is the one before `to`, or `to`'s own). */
export function rangeText(window: Window): string {
  const last = new Date(window.to.getTime() - 1);
  const first = fullDayFormat.format(window.from);
  const end = fullDayFormat.format(last);
  return first === end ? first : `${first} – ${end}`;
}

/** An hour of the day (UTC), as "14:00". */
export function hourLabel(hour: number): string {
  return `${String(hour).padStart(2, "0")}:00`;
}

/** A duration for a person: "0.4 s", "12 s", "4 min 30 s", "1 h 5 min", "2 d 3 h". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    const rest = Math.round(seconds - minutes * 60);
    return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** A count in the browser's language ("1,234"). */
export function count(value: number): string {
  return value.toLocaleString();
}

/** The CSV export of the window's conversations (same origin: the session cookie authenticates it). */
export function exportHref(window: Window, assistant: string): string {
  const search = new URLSearchParams({ from: window.from.toISOString(), to: window.to.toISOString() });
  if (assistant) search.set("assistant_id", assistant);
  return `/api/v1/analytics/conversations/export?${search}`;
}

/** The statuses in the order of a conversation's life (the server lists them by name). */
export const STATUS_LABELS: Record<string, string> = {
  open: "Open",
  handed_off: "Handed off",
  resolved: "Resolved",
  closed: "Closed",
};
