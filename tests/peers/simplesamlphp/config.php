<?php
// SimpleSAMLphp (Debian's 1.19) as the SAML identity provider of the SSO tests, run with `php -S` on loopback.
// Everything that varies comes from the environment the test sets: SSP_PORT, SSP_DIR (certificates, users,
// state), SP_ENTITY_ID and SP_ACS_URL (the service provider under test).
$dir = getenv('SSP_DIR');
$config = [
    'baseurlpath' => 'http://127.0.0.1:' . getenv('SSP_PORT') . '/',
    'certdir' => $dir . '/cert/',
    'loggingdir' => $dir . '/log/',
    'datadir' => $dir . '/data/',
    'tempdir' => $dir . '/tmp',
    'technicalcontact_name' => 'Concierge tests',
    'technicalcontact_email' => 'tests@example.com',
    'secretsalt' => 'concierge-test-secret-salt',
    'auth.adminpassword' => 'concierge-test-admin',
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'timezone' => 'UTC',
    'logging.level' => SimpleSAML\Logger::WARNING,
    'logging.handler' => 'errorlog',
    'enable.saml20-idp' => true,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true, 'admin' => true],
    'store.type' => 'phpsession',
    'session.cookie.secure' => false,
    'session.phpsession.savepath' => $dir . '/sessions',
    'metadata.sources' => [['type' => 'flatfile', 'directory' => __DIR__ . '/metadata']],
    'language.available' => ['en'],
    'language.default' => 'en',
];
