<?php
// Test users, read from $SSP_DIR/users.json at every sign-in (so a test can change someone's groups):
// {"alice": {"password": "…", "email": "…", "name": "…", "groups": ["…"]}}.
$users = json_decode(file_get_contents(getenv('SSP_DIR') . '/users.json'), true);
$userpass = ['exampleauth:UserPass'];
foreach ($users as $login => $user) {
    $userpass[$login . ':' . $user['password']] = [
        'email' => [$user['email']],
        'name' => [$user['name']],
        'groups' => $user['groups'],
    ];
}
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => $userpass,
];
