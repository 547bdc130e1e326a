// router.svelte.ts — the console's pages are paths under /console, followed with the History API.

export const BASE = "/console";

function here(): { path: string; search: URLSearchParams; hash: string } {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  return {
    path: path === "" || path === "/" ? "/" : path.replace(/\/+$/, ""),
    search: new URLSearchParams(location.search),
    hash: location.hash,
  };
}

/** The current page: its path below /console, its query and its fragment. */
export const route = $state(here());

/** The URL of a console page. */
export function href(path: string): string {
  return `${BASE}${path === "/" ? "/" : path}`;
}

/** Goes to a console page without reloading. */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  const url = href(path);
  if (options.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  Object.assign(route, here());
  if (!options.replace) window.scrollTo(0, 0);
}

/**
 * For `onclick` on links to console pages: a plain left click navigates in place (keeping the link's fragment, for
 * the page to bring its target into view), others behave as links do.
 */
export function follow(event: MouseEvent): void {
  const anchor = event.currentTarget;
  if (!(anchor instanceof HTMLAnchorElement)) return;
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey)
    return;
  if (anchor.target || anchor.origin !== location.origin || !anchor.pathname.startsWith(BASE)) return;
  event.preventDefault();
  navigate(anchor.pathname.slice(BASE.length) + anchor.search + anchor.hash);
}

window.addEventListener("popstate", () => Object.assign(route, here()));

/** The parameters of `pattern` (`/inbox/:id`) in `path`, or null when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/");
  const have = path.split("/");
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const value = have[i] ?? "";
    if (part.startsWith(":")) {
      if (!value) return null;
      params[part.slice(1)] = decodeURIComponent(value);
    } else if (part !== value) return null;
  }
  return params;
}
