/**
 * How text from packages enters the report: escaped for HTML, and turned
 * into file names that are safe whatever a package is called.
 */

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c] ?? "amp"};`,
  );
}

/** A file name safe for any package name. */
export function pageName(pkgname: string): string {
  return `pkg-${pkgname.replace(/[^A-Za-z0-9._+-]/g, "_")}.html`;
}

/** The report's copy of a package's stage log, below logs/. */
export function logName(pkgname: string, stage: string): string {
  return `${pageName(pkgname).slice(0, -5)}-${stage.replace(/[^A-Za-z0-9_-]/g, "_")}.log.txt`;
}
