// Crafts SAML 2.0 Responses for the SSO tests' negative cases, signed with xml-crypto as an IdP would sign them,
// with the defects the tests need (another audience, destination or recipient, expired, not yet valid, SHA-1,
// unsigned, signature wrapping). SimpleSAMLphp cannot produce these.
//
// usage: node craft-saml.mjs '<json>'   with {key, cert, issuer, destination, recipient, audience,
//   inResponseTo, email, groups, notBeforeSkew, notOnOrAfterSkew (seconds from now), algorithm ("sha256" |
//   "sha1"), sign ("assertion" | "response" | "none"), wrap (null | "evil_first" | "evil_in_extensions" |
//   "unsigned_copy" (a second, unsigned assertion after the signed one) | "only_in_extensions" (the signed
//   assertion moved into Extensions, none in its place)), signExtensions (an Extensions element with an ID,
//   signed instead of anything else), evilEmail, evilGroups}
// prints {"response": base64}
import { randomUUID } from 'node:crypto';
import { SignedXml } from 'xml-crypto';

const o = JSON.parse(process.argv[2]);
const now = Date.now();
const at = (seconds) => new Date(now + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function assertion(id, email, groups) {
  const values = (name, list) =>
    `<saml:Attribute Name="${name}">${list.map((v) => `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`;
  return `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${at(0)}">`
    + `<saml:Issuer>${esc(o.issuer)}</saml:Issuer>`
    + `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(email)}</saml:NameID>`
    + `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${at(o.notOnOrAfterSkew ?? 300)}" Recipient="${esc(o.recipient)}" InResponseTo="${esc(o.inResponseTo)}"/></saml:SubjectConfirmation></saml:Subject>`
    + `<saml:Conditions NotBefore="${at(o.notBeforeSkew ?? -30)}" NotOnOrAfter="${at(o.notOnOrAfterSkew ?? 300)}"><saml:AudienceRestriction><saml:Audience>${esc(o.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`
    + `<saml:AuthnStatement AuthnInstant="${at(0)}" SessionIndex="_${randomUUID()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`
    + `<saml:AttributeStatement>${values('email', [email])}${values('name', ['Crafted User'])}${values('groups', groups)}</saml:AttributeStatement>`
    + `</saml:Assertion>`;
}

function sign(xml, id, issuerXpath) {
  const sha1 = o.algorithm === 'sha1';
  const sig = new SignedXml({
    privateKey: o.key,
    publicCert: o.cert,
    signatureAlgorithm: sha1 ? 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' : 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath: `//*[@ID='${id}']`,
    digestAlgorithm: sha1 ? 'http://www.w3.org/2000/09/xmldsig#sha1' : 'http://www.w3.org/2001/04/xmlenc#sha256',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: issuerXpath, action: 'after' } });
  return sig.getSignedXml();
}

const assertionId = `_a${randomUUID()}`;
const responseId = `_r${randomUUID()}`;
let signedAssertion = assertion(assertionId, o.email, o.groups ?? []);
if (o.sign === 'assertion') {
  signedAssertion = sign(signedAssertion, assertionId, `//*[@ID='${assertionId}']/*[local-name(.)='Issuer']`);
}
let body = signedAssertion;
let extensions = '';
if (o.wrap) {
  // The attacker's assertion where a naive SP looks first; the genuinely signed one moved aside.
  const evil = assertion(`_e${randomUUID()}`, o.evilEmail, o.evilGroups ?? []);
  if (o.wrap === 'evil_first') body = evil + signedAssertion;
  if (o.wrap === 'evil_in_extensions') {
    body = evil;
    extensions = `<samlp:Extensions>${signedAssertion}</samlp:Extensions>`;
  }
  if (o.wrap === 'unsigned_copy') body = signedAssertion + assertion(`_c${randomUUID()}`, o.email, o.groups ?? []);
  if (o.wrap === 'only_in_extensions') {
    body = '';
    extensions = `<samlp:Extensions>${signedAssertion}</samlp:Extensions>`;
  }
}
if (o.signExtensions) {
  const extensionsId = `_x${randomUUID()}`;
  extensions = sign(
    `<samlp:Extensions xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${extensionsId}"><saml:Issuer>${esc(o.issuer)}</saml:Issuer></samlp:Extensions>`,
    extensionsId,
    `//*[@ID='${extensionsId}']/*[local-name(.)='Issuer']`,
  );
}
let response = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${responseId}" Version="2.0" IssueInstant="${at(0)}" Destination="${esc(o.destination)}" InResponseTo="${esc(o.inResponseTo)}">`
  + `<saml:Issuer>${esc(o.issuer)}</saml:Issuer>${extensions}`
  + `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>`
  + body
  + `</samlp:Response>`;
if (o.sign === 'response') {
  response = sign(response, responseId, `//*[@ID='${responseId}']/*[local-name(.)='Issuer']`);
}
console.log(JSON.stringify({ response: Buffer.from(response).toString('base64') }));
