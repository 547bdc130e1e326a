<?php
/**
 * The plugin: wires the front end, the block, the widget and the settings page.
 *
 * @package AI_Assistant
 */

namespace Concierge\AI_Assistant;

defined( 'ABSPATH' ) || exit;

/**
 * The plugin's single instance.
 */
final class Plugin {

	/**
	 * The instance.
	 *
	 * @var Plugin|null
	 */
	private static $instance = null;

	/**
	 * The front end.
	 *
	 * @var Embed
	 */
	private $embed;

	/**
	 * The instance, created on first use.
	 */
	public static function instance(): Plugin {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	/**
	 * Creates the parts.
	 */
	private function __construct() {
		$this->embed = new Embed();
	}

	/**
	 * The front end (for the block and the widget).
	 */
	public function embed(): Embed {
		return $this->embed;
	}

	/**
	 * Hooks everything.
	 */
	public function register(): void {
		$this->embed->register();
		add_action( 'init', array( $this, 'register_block' ) );
		add_action( 'widgets_init', array( $this, 'register_widget' ) );
		if ( is_admin() ) {
			add_action( 'admin_init', array( $this, 'ensure_options' ), 5 );
			( new Admin() )->register();
		}
	}

	/**
	 * Registers the AI Assistant block from its block.json, rendered on the server like the shortcode.
	 */
	public function register_block(): void {
		register_block_type(
			AI_ASSISTANT_DIR . 'blocks/ai-assistant',
			array(
				'render_callback' => array( $this, 'render_block' ),
			)
		);
	}

	/**
	 * The block's output: the widget on the page with the block's theme and position, nothing where it stands.
	 *
	 * @param array<string, mixed> $attributes The block's attributes.
	 * @return string Always ''.
	 */
	public function render_block( $attributes ): string {
		$attributes = is_array( $attributes ) ? $attributes : array();
		return $this->embed->shortcode(
			array(
				'theme'    => (string) ( $attributes['theme'] ?? '' ),
				'position' => (string) ( $attributes['position'] ?? '' ),
			)
		);
	}

	/**
	 * Registers the classic widget.
	 */
	public function register_widget(): void {
		register_widget( Widget::class );
	}

	/**
	 * Activation: creates the options, the API key's not autoloaded (it is only read on the settings page).
	 *
	 * Also run on admin_init when the options are missing (a plugin activated without its activation hook, such as
	 * one symlinked into wp-content/plugins): add_option() does nothing when an option exists.
	 */
	public static function activate(): void {
		add_option( Settings::OPTION, Settings::defaults() );
		add_option( Settings::KEY_OPTION, '', '', 'no' );
	}

	/**
	 * Creates the options when they are missing.
	 */
	public function ensure_options(): void {
		if ( false === get_option( Settings::KEY_OPTION, false ) || false === get_option( Settings::OPTION, false ) ) {
			self::activate();
		}
	}
}
