/**
 * The pinned production trust anchor: Intel SGX Root CA
 * (CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US; valid 2018-05-21 to 2049-12-31),
 * as published at https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem.
 *
 * The DER is embedded and its SHA-256 is checked against the published fingerprint when this module loads,
 * so a corrupted build cannot silently trust another root.
 */
import { createHash } from 'node:crypto';

/** SHA-256 of the Intel SGX Root CA certificate DER (Intel's published fingerprint). */
export const INTEL_SGX_ROOT_CA_SHA256 = '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';

const DER_BASE64 =
  'MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIwaDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYTAlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi71OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOBuzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJMEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SVUr9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYIKoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwgAiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=';

/** DER of the Intel SGX Root CA certificate. */
export const INTEL_SGX_ROOT_CA_DER: Uint8Array = new Uint8Array(Buffer.from(DER_BASE64, 'base64'));

const actual = createHash('sha256').update(INTEL_SGX_ROOT_CA_DER).digest('hex');
if (actual !== INTEL_SGX_ROOT_CA_SHA256) {
  // A build integrity failure, not user input: refuse to run rather than trust an unknown root.
  throw new Error(`embedded Intel SGX Root CA has SHA-256 ${actual}, expected ${INTEL_SGX_ROOT_CA_SHA256}`);
}
