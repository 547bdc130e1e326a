// paths.ts — path globs (`*` matches any run of characters, `/` included) and the show/hide rule for a page path.

/** Whether `path` matches `pattern` in full; `*` matches any run of characters (none included), all else is literal. */
export function globMatch(pattern: string, path: string): boolean {
  const parts = pattern.split("*");
  if (parts.length === 1) return pattern === path;
  const first = parts[0] ?? "";
  const last = parts[parts.length - 1] ?? "";
  if (path.length < first.length + last.length) return false;
  if (!path.startsWith(first) || !path.endsWith(last)) return false;
  // The middle pieces, in order, leftmost first, between the prefix and the suffix (greedy-free, linear).
  let at = first.length;
  const end = path.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const piece = parts[i] ?? "";
    if (!piece) continue;
    const found = path.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/**
 * Whether the widget shows on `path`: hidden where any `hide` glob matches; when `show` is not empty, shown only
 * where one of its globs matches.
 */
export function isPathVisible(path: string, hide: readonly string[], show: readonly string[]): boolean {
  if (hide.some((p) => globMatch(p, path))) return false;
  return show.length === 0 || show.some((p) => globMatch(p, path));
}
