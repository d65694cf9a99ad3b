// Debian's Chromium through playwright-core (no browser download), headless, with the flags this
// machine needs: no background networking, so nothing leaves the machine on its own. Shared by the
// browser checks scripts/check_site.mjs and scripts/check_lab.mjs. CHROMIUM=/path overrides the
// browser (e.g. Google Chrome on GitHub's runners).
import { chromium } from "playwright-core";

export const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";

export function launchChromium(userDataDir, viewport) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: browserPath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport,
  });
}
