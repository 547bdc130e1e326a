<?php
/**
 * The editor script's dependencies (written by hand: the script needs no build step).
 *
 * @package AI_Assistant
 */

return array(
	'dependencies' => array( 'wp-blocks', 'wp-element', 'wp-block-editor', 'wp-components', 'wp-i18n' ),
	'version'      => '1.0.0',
);
