<?php
// The service provider under test.
$metadata[getenv('SP_ENTITY_ID')] = [
    'AssertionConsumerService' => getenv('SP_ACS_URL'),
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'simplesaml.nameidattribute' => 'email',
];
