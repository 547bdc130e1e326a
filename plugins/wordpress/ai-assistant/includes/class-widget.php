<?php
/**
 * The classic widget.
 *
 * @package AI_Assistant
 */

namespace Concierge\AI_Assistant;

use WP_Widget;

defined( 'ABSPATH' ) || exit;

/**
 * A widget for widget areas that puts the chat widget on the pages showing that area, as the shortcode does.
 *
 * It prints nothing in the area itself: the chat launcher floats in a corner of the page.
 */
class Widget extends WP_Widget {

	/**
	 * Registers the widget's id base, name and description.
	 */
	public function __construct() {
		parent::__construct(
			'ai_assistant',
			__( 'AI Assistant', 'ai-assistant' ),
			array(
				'description'                 => __( 'Shows the AI Assistant chat widget on the pages that display this widget area.', 'ai-assistant' ),
				'customize_selective_refresh' => true,
			)
		);
	}

	/**
	 * Puts the chat widget on the page.
	 *
	 * @param array<string, mixed> $args     The area's arguments (unused: nothing is printed in the area).
	 * @param array<string, mixed> $instance The widget's settings.
	 */
	public function widget( $args, $instance ) {
		$instance = $this->normalize( is_array( $instance ) ? $instance : array() );
		Plugin::instance()->embed()->show( $instance );
	}

	/**
	 * The widget's form in Appearance → Widgets and the Customizer.
	 *
	 * @param array<string, mixed> $instance The widget's settings.
	 * @return string '' (the form is printed).
	 */
	public function form( $instance ) {
		$instance = $this->normalize( is_array( $instance ) ? $instance : array() );
		?>
		<p>
			<label for="<?php echo esc_attr( $this->get_field_id( 'theme' ) ); ?>"><?php esc_html_e( 'Theme:', 'ai-assistant' ); ?></label>
			<select class="widefat" id="<?php echo esc_attr( $this->get_field_id( 'theme' ) ); ?>" name="<?php echo esc_attr( $this->get_field_name( 'theme' ) ); ?>">
				<option value=""><?php esc_html_e( 'Default (settings page)', 'ai-assistant' ); ?></option>
				<?php foreach ( Settings::theme_labels() as $value => $label ) : ?>
					<option value="<?php echo esc_attr( $value ); ?>" <?php selected( $instance['theme'], $value ); ?>><?php echo esc_html( $label ); ?></option>
				<?php endforeach; ?>
			</select>
		</p>
		<p>
			<label for="<?php echo esc_attr( $this->get_field_id( 'position' ) ); ?>"><?php esc_html_e( 'Position:', 'ai-assistant' ); ?></label>
			<select class="widefat" id="<?php echo esc_attr( $this->get_field_id( 'position' ) ); ?>" name="<?php echo esc_attr( $this->get_field_name( 'position' ) ); ?>">
				<option value=""><?php esc_html_e( 'Default (settings page)', 'ai-assistant' ); ?></option>
				<?php foreach ( Settings::position_labels() as $value => $label ) : ?>
					<option value="<?php echo esc_attr( $value ); ?>" <?php selected( $instance['position'], $value ); ?>><?php echo esc_html( $label ); ?></option>
				<?php endforeach; ?>
			</select>
		</p>
		<p>
			<label for="<?php echo esc_attr( $this->get_field_id( 'assistant' ) ); ?>"><?php esc_html_e( 'Assistant id (optional):', 'ai-assistant' ); ?></label>
			<input class="widefat code" type="text" id="<?php echo esc_attr( $this->get_field_id( 'assistant' ) ); ?>" name="<?php echo esc_attr( $this->get_field_name( 'assistant' ) ); ?>" value="<?php echo esc_attr( $instance['assistant'] ); ?>" placeholder="asst_…" pattern="asst_[0-9A-Za-z]{26}" />
		</p>
		<?php
		return '';
	}

	/**
	 * Sanitizes the form's values.
	 *
	 * @param array<string, mixed> $new_instance The submitted settings.
	 * @param array<string, mixed> $old_instance The previous settings.
	 * @return array<string, string>
	 */
	public function update( $new_instance, $old_instance ) {
		return $this->normalize( is_array( $new_instance ) ? $new_instance : array() );
	}

	/**
	 * Valid theme, position and assistant, '' for each one missing or invalid.
	 *
	 * @param array<string, mixed> $instance The settings.
	 * @return array{theme: string, position: string, assistant: string}
	 */
	private function normalize( array $instance ): array {
		return array(
			'theme'     => Settings::theme( $instance['theme'] ?? '' ),
			'position'  => Settings::position( $instance['position'] ?? '' ),
			'assistant' => Settings::assistant_id( $instance['assistant'] ?? '' ),
		);
	}
}
