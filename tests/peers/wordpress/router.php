<?php
/**
 * Router of PHP's built-in server for WordPress, what Apache's rewrite rules do in production:
 *
 *     php -S 127.0.0.1:PORT -t WORDPRESS_DIR tests/peers/wordpress/router.php
 *
 * Files (static or PHP, wp-login.php, wp-admin/…) are served as they are; a directory without its trailing slash
 * is redirected to it (relative URLs in wp-admin need it); every other path (pretty permalinks, /wp-json/…) goes
 * to WordPress's index.php.
 *
 * @package AI_Assistant
 */

$root = rtrim( $_SERVER['DOCUMENT_ROOT'], '/' );
$path = rawurldecode( (string) parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH ) );

// No way out of the document root, and no dot files.
if ( str_contains( $path, '..' ) || str_contains( $path, '/.' ) ) {
	http_response_code( 404 );
	return true;
}

if ( '/' !== $path && is_dir( $root . $path ) && ! str_ends_with( $path, '/' ) ) {
	$query = parse_url( $_SERVER['REQUEST_URI'], PHP_URL_QUERY );
	header( 'Location: ' . $path . '/' . ( $query ? '?' . $query : '' ), true, 301 );
	return true;
}

if ( is_file( $root . $path ) || ( is_dir( $root . $path ) && is_file( $root . rtrim( $path, '/' ) . '/index.php' ) ) ) {
	// The built-in server serves it: static files with their type, PHP files run, directories' index.php.
	return false;
}

// Everything else is WordPress's: pretty permalinks, the REST API, 404 pages.
$_SERVER['SCRIPT_NAME']     = '/index.php';
$_SERVER['PHP_SELF']        = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $root . '/index.php';
chdir( $root );
require $root . '/index.php';
