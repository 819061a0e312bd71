import { type Browser, chromium } from 'playwright-core'

/**
 * Debian's Chromium (installed by .ci/run and scripts/ensure-test-tools.sh), driven by playwright-core:
 * browser downloads do not work here, so the executable is the system one. The background-networking
 * flags keep Chromium from calling home on a closed network. `hosts` maps names to 127.0.0.1, so a
 * page can be served under a name that is not loopback (plain http that is not "potentially
 * trustworthy", as in a private network) and a second name plays another site. Playwright gives every
 * launch a fresh --user-data-dir of its own (it refuses one in `args`).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export interface TestBrowser {
  readonly browser: Browser
  close(): Promise<void>
}

export async function launchChromium(hosts: readonly string[] = []): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(hosts.length === 0
        ? []
        : [`--host-resolver-rules=${hosts.map((h) => `MAP ${h} 127.0.0.1`).join(', ')}`]),
    ],
  })
  return {
    browser,
    close: () => browser.close(),
  }
}
