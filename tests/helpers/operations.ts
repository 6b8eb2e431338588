/** The operator's emergency-stop mutations, shared by the tests that stop and resume functions. */
export const SUSPEND = `mutation($f: PlatformFunction!, $m: String, $r: String!) {
  suspendFunction(function: $f, municipalityCode: $m, reason: $r) { suspension { id function municipalityCode reason } userErrors { field code message } }
}`;
export const RESUME = 'mutation($f: PlatformFunction!, $m: String) { resumeFunction(function: $f, municipalityCode: $m) { resumedSuspensionId userErrors { field code } } }';
